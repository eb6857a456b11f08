// notecheck: the interop tests' bridge to golang.org/x/mod/sumdb/note, the
// reference implementation of C2SP signed notes (the package Go's own
// checksum database client uses). Built by tests/interop/log_note.rs with
// Debian's golang-go and golang-golang-x-mod-dev, offline (GOPATH mode).
//
//	notecheck keygen NAME          prints a signer key and a verifier key
//	notecheck vkey NAME HEXPUB     prints the verifier key of an Ed25519 key
//	notecheck sign SKEY            signs the text on stdin, prints the note
//	notecheck verify VKEY...       opens the note on stdin with the keys,
//	                               prints its text, and on stderr one line
//	                               per verified signature; exit 1 if refused
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "notecheck: "+format+"\n", args...)
	os.Exit(1)
}

func usage() {
	fail("usage: notecheck keygen NAME | vkey NAME HEXPUB | sign SKEY | verify VKEY...")
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "keygen":
		if len(os.Args) != 3 {
			usage()
		}
		skey, vkey, err := note.GenerateKey(rand.Reader, os.Args[2])
		if err != nil {
			fail("keygen: %v", err)
		}
		fmt.Printf("%s\n%s\n", skey, vkey)
	case "vkey":
		if len(os.Args) != 4 {
			usage()
		}
		pub, err := hex.DecodeString(os.Args[3])
		if err != nil || len(pub) != ed25519.PublicKeySize {
			fail("vkey: not a hex Ed25519 public key")
		}
		vkey, err := note.NewEd25519VerifierKey(os.Args[2], ed25519.PublicKey(pub))
		if err != nil {
			fail("vkey: %v", err)
		}
		fmt.Println(vkey)
	case "sign":
		if len(os.Args) != 3 {
			usage()
		}
		signer, err := note.NewSigner(os.Args[2])
		if err != nil {
			fail("sign: %v", err)
		}
		text, err := io.ReadAll(os.Stdin)
		if err != nil {
			fail("sign: %v", err)
		}
		msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
		if err != nil {
			fail("sign: %v", err)
		}
		os.Stdout.Write(msg)
	case "verify":
		if len(os.Args) < 3 {
			usage()
		}
		var verifiers []note.Verifier
		for _, k := range os.Args[2:] {
			v, err := note.NewVerifier(k)
			if err != nil {
				fail("verify: key %q: %v", k, err)
			}
			verifiers = append(verifiers, v)
		}
		msg, err := io.ReadAll(os.Stdin)
		if err != nil {
			fail("verify: %v", err)
		}
		n, err := note.Open(msg, note.VerifierList(verifiers...))
		if err != nil {
			fail("verify: %v", err)
		}
		for _, s := range n.Sigs {
			fmt.Fprintf(os.Stderr, "verified %s+%08x\n", s.Name, s.Hash)
		}
		os.Stdout.WriteString(n.Text)
	default:
		usage()
	}
}
