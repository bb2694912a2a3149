// Package logline carries typed records in a process's output, among
// whatever else it prints: one JSON object per line behind a tag. The
// loader's agents report their steps this way, and a pod's sampler its
// readings; in a cluster that output is the container's log.
package logline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Write writes v as one line: tag, then v as JSON.
func Write(w io.Writer, tag string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s%s\n", tag, b)
	return err
}

// Parse decodes line into v if it carries tag (surrounding white space
// aside); ok is false, and v untouched, for any other line.
func Parse(line []byte, tag string, v any) (ok bool, err error) {
	rest, found := bytes.CutPrefix(bytes.TrimSpace(line), []byte(tag))
	if !found {
		return false, nil
	}
	if err := json.Unmarshal(rest, v); err != nil {
		return true, fmt.Errorf("decode: %w", err)
	}
	return true, nil
}
