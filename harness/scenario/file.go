package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// FieldError is the one-line error a user sees for a bad scenario file:
// which file, which field, what is wrong.
type FieldError struct {
	File  string
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: field %s: %s", e.File, e.Field, e.Msg)
}

var yamlField = regexp.MustCompile(`field (\S+) not found`)

// decodeFile strictly decodes a YAML file: unknown fields are errors, so a
// typo such as "step_duraton" is caught instead of silently ignored.
func decodeFile(path string, into any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg := te.Errors[0]
			if m := yamlField.FindStringSubmatch(msg); m != nil {
				return &FieldError{File: path, Field: m[1], Msg: "unknown field (" + firstLine(msg) + ")"}
			}
			return &FieldError{File: path, Msg: firstLine(msg)}
		}
		return &FieldError{File: path, Msg: firstLine(err.Error())}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimPrefix(s, "yaml: ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
