package record

import (
	"errors"
	"fmt"
)

// Class groups the kinds whose values compare with each other: every
// number (INTEGER, DECIMAL, FLOAT) is one class. NULL has ClassNone.
type Class uint8

// The value classes.
const (
	ClassNone Class = iota
	ClassNumber
	ClassString
	ClassBool
	ClassTime
)

var classNames = [...]string{"NULL", "numbers", "strings", "booleans", "timestamps"}

// String names the class in the plural, for messages ("numbers").
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// Class returns the value's class.
func (v Value) Class() Class {
	switch v.kind {
	case Int, Decimal, Float:
		return ClassNumber
	case String:
		return ClassString
	case Bool:
		return ClassBool
	case Timestamp:
		return ClassTime
	}
	return ClassNone
}

// ErrNotNumber reports a value that SUM, AVG and arithmetic need as a number.
var ErrNotNumber = errors.New("want a number")

// CheckSummable returns nil when SUM or AVG (fn, named in the error) can
// take v: NULL (skipped) or a number. A DECIMAL whose scale is beyond
// MaxScale is an ErrDecimalOverflow, anything else an ErrNotNumber.
func CheckSummable(fn string, v Value) error {
	switch v.kind {
	case Null, Int, Float:
		return nil
	case Decimal:
		if v.scale <= MaxScale {
			return nil
		}
	}
	return notSummable(fn, v) // apart, so that the check inlines
}

// notSummable is CheckSummable's error for v.
func notSummable(fn string, v Value) error {
	err := ErrNotNumber
	if v.kind == Decimal {
		err = ErrDecimalOverflow
	}
	return fmt.Errorf("%s of %s %s: %w", fn, v.Kind(), v, err)
}
