package oci

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// SourceDate is the timestamp reproducible images carry: SOURCE_DATE_EPOCH
// (read through getenv) when set, else the last commit's time in the working
// directory, else the Unix epoch; never the clock. A SOURCE_DATE_EPOCH that is
// not a number is an error.
func SourceDate(ctx context.Context, getenv func(string) string) (time.Time, error) {
	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	out, err := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct").Output()
	if err != nil {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Unix(0, 0).UTC(), nil
	}
	return time.Unix(sec, 0).UTC(), nil
}
