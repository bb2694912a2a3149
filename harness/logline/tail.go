package logline

import (
	"os"
	"strings"
)

// Tail is the last n lines of a process's output s, without the final
// newline: what an error message quotes of a process that failed.
func Tail(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// TailFile is Tail of the log file at path.
func TailFile(path string, n int) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Tail(string(b), n), nil
}
