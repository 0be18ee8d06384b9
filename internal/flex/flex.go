// Package flex decodes the platform's loosely typed JSON: numbers that arrive as strings, strings
// that arrive as numbers, nulls and empty strings for absent values, and "Y-m-d H:i:s" times in
// China time.
package flex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// China is the platform's time zone (UTC+8, no daylight saving), fixed so that decoding does not
// depend on the host's zone database.
var China = time.FixedZone("CST", 8*60*60)

// Int is an integer that may arrive as 12, "12", 12.0, "", or null (the last two as 0).
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	s, ok := scalar(b)
	if !ok {
		return fmt.Errorf("flex.Int: cannot decode %.40s", b)
	}
	if s == "" {
		*n = 0
		return nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = Int(v)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != float64(int64(f)) {
		return fmt.Errorf("flex.Int: %q is not an integer", s)
	}
	*n = Int(f)
	return nil
}

// Float is a number that may arrive as 83.33, "83.33", "50%", "", or null (the last two as 0).
type Float float64

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	s, ok := scalar(b)
	if !ok {
		return fmt.Errorf("flex.Float: cannot decode %.40s", b)
	}
	s = strings.TrimSuffix(s, "%")
	if s == "" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("flex.Float: %q is not a number", s)
	}
	*f = Float(v)
	return nil
}

// String is text that may arrive as a string, a number, a bool, or null (as "").
type String string

// UnmarshalJSON implements json.Unmarshaler.
func (s *String) UnmarshalJSON(b []byte) error {
	v, ok := scalar(b)
	if !ok {
		return fmt.Errorf("flex.String: cannot decode %.40s", b)
	}
	*s = String(v)
	return nil
}

// Time is a platform time: "Y-m-d H:i:s" or "Y-m-d" in China time, or Unix seconds. "", null and
// the zero dates "0000-00-00 …" decode as the zero time.
type Time struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	s, ok := scalar(b)
	if !ok {
		return fmt.Errorf("flex.Time: cannot decode %.40s", b)
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// ParseTime parses a platform time string; see Time.
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
	return time.Time{}, fmt.Errorf("flex.Time: %q is not a platform time", s)
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

// scalar returns the text of a JSON string, number, bool or null ("" for null and for PHP's empty
// array []). ok is false for other objects and arrays.
func scalar(b []byte) (string, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", false
	}
	switch b[0] {
	case '"':
		if s, ok := unquote(b); ok {
			return strings.TrimSpace(s), true
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false
		}
		return strings.TrimSpace(s), true
	case '{', '[':
		return "", isEmptyArray(b)
	}
	if string(b) == "null" {
		return "", true
	}
	return string(b), true
}

// isEmptyArray reports whether b is [], which PHP's json_encode writes for an empty array where
// a value was expected: it decodes as absent, like null.
func isEmptyArray(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '[' && len(bytes.TrimSpace(b[1:len(b)-1])) == 0 && b[len(b)-1] == ']'
}

// unquote returns the text of the JSON string b without the general decoder, for the strings
// the platform sends: valid UTF-8 and the escapes PHP writes (\/, \", \\, \b, \f, \n, \r, \t and
// \uXXXX outside the surrogates). ok is false for anything else, which the general decoder then
// reads; where ok is true the text is the one encoding/json gives.
func unquote(b []byte) (string, bool) {
	if len(b) < 2 || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	if !utf8.Valid(in) {
		return "", false
	}
	esc := bytes.IndexByte(in, '\\')
	if esc < 0 {
		esc = len(in)
	}
	for _, c := range in[:esc] {
		if c < 0x20 || c == '"' {
			return "", false
		}
	}
	if esc == len(in) {
		return string(in), true
	}
	out := make([]byte, esc, len(in))
	copy(out, in)
	for i := esc; i < len(in); {
		c := in[i]
		switch {
		case c < 0x20 || c == '"':
			return "", false
		case c != '\\':
			out = append(out, c)
			i++
			continue
		case i+1 == len(in):
			return "", false
		}
		switch e := in[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(in) {
				return "", false
			}
			r, err := strconv.ParseUint(string(in[i+2:i+6]), 16, 16)
			if err != nil || utf16.IsSurrogate(rune(r)) {
				return "", false
			}
			out = utf8.AppendRune(out, rune(r))
			i += 6
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}
