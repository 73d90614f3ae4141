package fcgireq

import (
	"context"
	"fmt"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/fcgiwire"
	"github.com/fcgicli/fcgicli/formatters"
)

// manage runs one management exchange on a new connection, within o's
// deadline.
func manage(ctx context.Context, o NetOptions, tr *formatters.Tracer, f func(context.Context, *fcgiwire.Conn) error) error {
	ctx, cancel := o.WithTimeout(ctx)
	defer cancel()
	conn, done, err := Connect(ctx, o, tr, nil)
	if err != nil {
		return err
	}
	defer done()
	err = TimeoutCause(ctx, f(ctx, conn))
	if fcgiwire.IsHTTPAnswer(err) {
		// The one answer of the hints' table a management record gets.
		err = runenv.WithHint(err, Hint(&Answer{Err: err}))
	}
	return err
}

// GetValues asks the application for the values of names
// (FCGI_GET_VALUES) on a connection of its own. With fcgiwire.ErrBadPair
// the pairs before the malformed one are returned too.
func GetValues(ctx context.Context, o NetOptions, tr *formatters.Tracer, names []string) (pairs []fcgiwire.Pair, err error) {
	err = manage(ctx, o, tr, func(ctx context.Context, conn *fcgiwire.Conn) (err error) {
		pairs, err = conn.GetValues(ctx, names)
		return err
	})
	return pairs, err
}

// Management sends a management record of type t with no content on a
// connection of its own, and returns the application's answer.
func Management(ctx context.Context, o NetOptions, tr *formatters.Tracer, t fcgiwire.RecordType) (rec fcgiwire.Record, err error) {
	err = manage(ctx, o, tr, func(ctx context.Context, conn *fcgiwire.Conn) (err error) {
		rec, err = conn.Management(ctx, t, nil)
		return err
	})
	return rec, err
}

// CheckUnknownType judges rec, the answer to a record of type t the
// application should not know: a protocol error (exit 5) says what is
// wrong when it is not the UNKNOWN_TYPE that names t.
func CheckUnknownType(t fcgiwire.RecordType, rec fcgiwire.Record) error {
	if rec.Type != fcgiwire.TypeUnknownType {
		return &runenv.CodeError{Code: runenv.ExitProtocol, Msg: fmt.Sprintf("the application answered type %d with %s, not UNKNOWN_TYPE", uint8(t), rec.Type)}
	}
	named, err := fcgiwire.DecodeUnknownType(rec.Content)
	switch {
	case err != nil:
		return &runenv.CodeError{Code: runenv.ExitProtocol, Msg: fmt.Sprintf("malformed UNKNOWN_TYPE answer: %v", err)}
	case named != t:
		return &runenv.CodeError{Code: runenv.ExitProtocol, Msg: fmt.Sprintf("the application's UNKNOWN_TYPE names type %d, not %d", uint8(named), uint8(t))}
	}
	return nil
}
