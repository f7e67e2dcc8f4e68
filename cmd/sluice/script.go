package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/sluicesql/sluice/sql"
)

// commandLine names SQL given with -e in error messages.
const commandLine = "<command line>"

// script is the SQL a command works on: its statements and the name and
// text they were parsed from, which errors quote.
type script struct {
	name, text string
	stmts      []*sql.Statement
}

// readScript parses the SQL of a FILE argument or of -e text (exactly one
// must be given). Errors are the user's.
func readScript(file, execute string) (*script, error) {
	s := &script{name: file}
	switch {
	case execute != "" && file != "":
		return nil, userError{errors.New("give either a FILE or -e SQL, not both")}
	case execute != "":
		s.name, s.text = commandLine, execute
	case file != "":
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, userError{err}
		}
		s.text = string(src)
	default:
		return nil, userError{errors.New("nothing to do: give a FILE or -e SQL")}
	}
	stmts, err := sql.Parse(s.name, s.text)
	if err != nil {
		return nil, userError{err}
	}
	if len(stmts) == 0 {
		return nil, userError{fmt.Errorf("%s: no statements", s.name)}
	}
	s.stmts = stmts
	return s, nil
}

// locate gives the positioned errors in err the script's file name and
// source line.
func (s *script) locate(err error) error {
	return sql.Locate(err, s.name, s.text)
}
