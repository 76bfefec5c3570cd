package input

import "strings"

// Problems splits joined errors into one message each, each on one line:
// what a front end prints, a line per problem, or annotates.
func Problems(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	return []string{oneLine(err.Error())}
}

// oneLine puts a message on one line: its lines, trimmed, joined by "; "
// (a line ending in a colon introduces the next).
func oneLine(msg string) string {
	var b strings.Builder
	for line := range strings.Lines(msg) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}
