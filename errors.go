// Errors: chkv's sentinel errors and the table that maps them to RESP error prefixes both ways.

package chkv

import (
	"errors"
	"strings"
)

// Sentinel errors. Errors returned by chkv wrap one of these when they have
// a meaning a caller can act on; errors.Is works on both sides of the wire
// because every sentinel has a RESP error prefix (see errorPrefixes).
var (
	// ErrNil is returned when a key (or list element) does not exist.
	ErrNil = errors.New("chkv: nil")
	// ErrWrongType is returned for an operation against a key holding the wrong kind of value.
	ErrWrongType = errors.New("chkv: WRONGTYPE Operation against a key holding the wrong kind of value")
	// ErrVersion is returned by a versioned write whose expected version does not match.
	ErrVersion = errors.New("chkv: version mismatch")
	// ErrNotInteger is returned when a value is not an integer or out of range.
	ErrNotInteger = errors.New("chkv: value is not an integer or out of range")
	// ErrNoAuth is returned when a server requires AUTH first.
	ErrNoAuth = errors.New("chkv: authentication required")
	// ErrWrongPass is returned for a bad password.
	ErrWrongPass = errors.New("chkv: invalid password")
	// ErrProtocol is returned for a malformed request or reply.
	ErrProtocol = errors.New("chkv: protocol error")
	// ErrClosed is returned by calls on a closed node, server or client.
	ErrClosed = errors.New("chkv: closed")
	// ErrMoved is returned when a key's slot is served by another node.
	ErrMoved = errors.New("chkv: moved")
	// ErrAsk is returned when a key's slot is being migrated and the key must be asked elsewhere.
	ErrAsk = errors.New("chkv: ask")
	// ErrTryAgain is returned when a multi-key request spans a slot being migrated.
	ErrTryAgain = errors.New("chkv: try again")
	// ErrCrossSlot is returned when a multi-key command names keys of different slots.
	ErrCrossSlot = errors.New("chkv: keys in request don't hash to the same slot")
	// ErrClusterDown is returned when a slot has no live owner.
	ErrClusterDown = errors.New("chkv: cluster down")
	// ErrOOM is returned when a write is refused because memory is full.
	ErrOOM = errors.New("chkv: out of memory")
	// ErrTooLarge is returned when a value or request exceeds a configured limit.
	ErrTooLarge = errors.New("chkv: too large")
	// ErrUnknownCommand is returned by the server for a command it does not know.
	ErrUnknownCommand = errors.New("chkv: unknown command")
	// ErrSyntax is returned for a syntax error in a command.
	ErrSyntax = errors.New("chkv: syntax error")
)

// errorPrefixes maps RESP error prefixes (the first word, or the leading
// words, of an error reply) to sentinels. The server writes errors that start
// with these prefixes; the client turns them back into wrapped sentinels.
var errorPrefixes = []struct {
	prefix string
	err    error
}{
	{"WRONGTYPE", ErrWrongType},
	{"VERSION", ErrVersion},
	{"NOAUTH", ErrNoAuth},
	{"WRONGPASS", ErrWrongPass},
	{"MOVED", ErrMoved},
	{"ASK", ErrAsk},
	{"TRYAGAIN", ErrTryAgain},
	{"CROSSSLOT", ErrCrossSlot},
	{"CLUSTERDOWN", ErrClusterDown},
	{"OOM", ErrOOM},
	{"ERR value is not an integer or out of range", ErrNotInteger},
	{"ERR increment or decrement would overflow", ErrNotInteger},
	{"ERR syntax error", ErrSyntax},
	{"ERR unknown command", ErrUnknownCommand},
	{"ERR Protocol error", ErrProtocol},
	{"ERR string exceeds maximum allowed size", ErrTooLarge},
	{"ERR invalid password", ErrWrongPass},
}

// RESPError is an error reply received from a server. Its Error text is the
// reply as the server sent it; errors.Is matches the sentinel its prefix maps to.
type RESPError struct {
	Msg string
}

func (e *RESPError) Error() string { return e.Msg }

// Unwrap returns the sentinel that the reply's prefix maps to, if any.
func (e *RESPError) Unwrap() error { return sentinelFor(e.Msg) }

// sentinelFor returns the sentinel for a RESP error message, or nil.
func sentinelFor(msg string) error {
	for _, p := range errorPrefixes {
		if strings.HasPrefix(msg, p.prefix) {
			rest := msg[len(p.prefix):]
			if rest == "" || rest[0] == ' ' || strings.HasPrefix(p.prefix, "ERR ") {
				return p.err
			}
		}
	}
	return nil
}
