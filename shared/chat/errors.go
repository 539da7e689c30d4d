package chat

import (
	"errors"
	"fmt"
)

// Error codes. They are Rocket.Chat's errorType values (SPEC §1.1); the HTTP
// status of each lives in one table, in the API handler.
const (
	CodeUnauthorized     = "unauthorized"
	CodeInvalidParams    = "error-invalid-params"
	CodeInvalidFormat    = "error-invalid-format"
	CodeActionNotAllowed = "error-action-not-allowed"
	CodeInvalidRoom      = "error-invalid-room"
	CodeNotAllowed       = "error-not-allowed"
	CodeInvalidDates     = "error-invalid-dates"
	CodeInvalidRecipient = "error-invalid-recipient"
	CodeInvalidMessages  = "error-invalid-messages"
	CodeInvalidEmail     = "error-invalid-email"
	CodeTooManyRequests  = "error-too-many-requests"
	CodeNotFound         = "error-not-found"
	CodeInvalidLink      = "error-invalid-link"
	CodeLinkExpired      = "error-link-expired"
	CodeInternal         = "error-internal"
)

// ErrNotFound is returned by stores when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by stores when a conditional write loses.
var ErrConflict = errors.New("conflict")

// Error is an expected failure that reaches the client: a code from the
// catalogue and a reason safe to show. Op and Err are for the log only.
type Error struct {
	Code   string
	Reason string
	Op     string
	Err    error

	RetryAfterSeconds int // for CodeTooManyRequests
}

func (e *Error) Error() string {
	s := e.Code
	if e.Reason != "" {
		s = e.Reason + " [" + e.Code + "]"
	}
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Message is the client-facing text: "<reason> [<code>]", or "[<code>]".
func (e *Error) Message() string {
	if e.Reason == "" {
		return "[" + e.Code + "]"
	}
	return e.Reason + " [" + e.Code + "]"
}

// E builds an Error with a code and a formatted reason.
func E(code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or CodeInternal.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
