// Package flex reads and writes the platform's loosely typed JSON: numbers that arrive as strings,
// strings that arrive as numbers, nulls, "" and PHP's [] for absent values, and "Y-m-d H:i:s"
// times in China time. Codec does it for a struct type, driven by its json tags.
package flex

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// China is the platform's time zone (UTC+8, no daylight saving), fixed so that decoding does not
// depend on the host's zone database.
var China = time.FixedZone("CST", 8*60*60)

// ParseTime parses a platform time: "Y-m-d H:i:s" or "Y-m-d" in China time, RFC 3339, or Unix
// seconds. "" and the zero dates "0000-00-00 …" are the zero time.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, nil
	}
	if t, ok := parseDateTime(s); ok {
		return t, nil
	}
	for _, layout := range []string{time.DateTime, time.DateOnly, "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, China); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(China), nil
	}
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil && sec > 0 {
		return time.Unix(sec, 0).In(China), nil
	}
	return time.Time{}, fmt.Errorf("flex.Time: %q is not a platform time", strings.Clone(s)) // s itself stays where it is
}

// parseDateTime parses the usual "Y-m-d H:i:s" without time.Parse's general machinery. ok is
// false for anything else, including an impossible date, which ParseTime then leaves to
// time.ParseInLocation; where ok is true the result is the one time.ParseInLocation gives.
func parseDateTime(s string) (time.Time, bool) {
	if len(s) != len(time.DateTime) || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, China)
	if t.Day() != day { // past the month's end: time.Date rolled it over
		return time.Time{}, false
	}
	return t, true
}

// digits returns the number s spells in decimal digits only.
func digits(s string) (int, bool) {
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
