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

// scalar returns the text of a JSON string, number, bool or null ("" for null). ok is false for
// objects and arrays.
func scalar(b []byte) (string, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", false
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false
		}
		return strings.TrimSpace(s), true
	case '{', '[':
		return "", false
	}
	if string(b) == "null" {
		return "", true
	}
	return string(b), true
}
