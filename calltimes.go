package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/digelao-go/digelao/internal/flex"
)

// CallTimesService covers platform section 4 外呼时间: the hours in which tasks may call.
type CallTimesService service

// TimeRange is a calling window within a day, from From to To, each "HH:MM" (platform time,
// China); To may be "24:00".
type TimeRange struct {
	From, To string
}

func (r TimeRange) String() string { return r.From + "-" + r.To }

// CallingHours is the account's calling schedule. A day with no ranges has no calling.
type CallingHours struct {
	// Week holds the ranges of week1 … week7: Week[0] is week1. [inferred: week1 is Monday and
	// week7 Sunday; the pages do not say.]
	Week [7][]TimeRange
	// Holiday holds the ranges used on public holidays, and HolidayOn (holiday_status) whether
	// that holiday schedule applies [inferred from 4.3's reply; 4.4's page is cut off before them].
	Holiday   []TimeRange
	HolidayOn bool
}

type callTimesWire struct {
	Week1         flex.String `json:"week1"`
	Week2         flex.String `json:"week2"`
	Week3         flex.String `json:"week3"`
	Week4         flex.String `json:"week4"`
	Week5         flex.String `json:"week5"`
	Week6         flex.String `json:"week6"`
	Week7         flex.String `json:"week7"`
	Holiday       flex.String `json:"holiday"`
	HolidayStatus flex.Int    `json:"holiday_status"`
}

// UnmarshalJSON decodes the reply of 4.3: "HH:MM-HH:MM" ranges joined by commas.
func (h *CallingHours) UnmarshalJSON(b []byte) error {
	var w callTimesWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = CallingHours{HolidayOn: w.HolidayStatus == 1}
	for i, s := range []flex.String{w.Week1, w.Week2, w.Week3, w.Week4, w.Week5, w.Week6, w.Week7, w.Holiday} {
		ranges, err := parseRanges(string(s))
		if err != nil {
			return err
		}
		if i == 7 {
			h.Holiday = ranges
		} else {
			h.Week[i] = ranges
		}
	}
	return nil
}

// parseRanges reads "08:30-12:00,13:30-20:30"; "" is no range.
func parseRanges(s string) ([]TimeRange, error) {
	var out []TimeRange
	for _, f := range splitList(s) {
		from, to, ok := strings.Cut(f, "-")
		if !ok {
			return nil, fmt.Errorf("calling hours: %q is not HH:MM-HH:MM", f)
		}
		out = append(out, TimeRange{strings.TrimSpace(from), strings.TrimSpace(to)})
	}
	return out, nil
}

// minutes returns an "HH:MM" clock time as minutes after midnight; "24:00" only as an end.
func minutes(s string, end bool) (int, bool) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) != 2 || len(mm) != 2 {
		return 0, false
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, false
	}
	return h*60 + m, true
}

// joinRanges checks ranges — valid times, each ending after it starts, in order without overlap —
// and joins them as the platform writes them.
func joinRanges(field string, ranges []TimeRange) (string, error) {
	parts := make([]string, len(ranges))
	last := -1
	for i, r := range ranges {
		from, ok1 := minutes(r.From, false)
		to, ok2 := minutes(r.To, true)
		switch {
		case !ok1 || !ok2:
			return "", invalid(field, "range %q: times must be HH:MM (00:00–23:59, or 24:00 as an end)", r)
		case from >= to:
			return "", invalid(field, "range %q ends before it starts", r)
		case from < last:
			return "", invalid(field, "range %q overlaps or precedes the one before it", r)
		}
		last, parts[i] = to, r.String()
	}
	return strings.Join(parts, ","), nil
}

var (
	callTimesGetEndpoint = endpoint{method: http.MethodPost, path: "/api/callTimeList", read: true}
	callTimesSetEndpoint = endpoint{method: http.MethodPost, path: "/api/timeSave"}
)

// Get returns the account's calling hours.
//
// Platform API 4.3 外呼时间列表(新) (POST /api/callTimeList), server version 6.5.5 and later: no
// parameters; data holds week1 … week7, holiday and holiday_status.
func (s *CallTimesService) Get(ctx context.Context) (*CallingHours, error) {
	var h CallingHours
	if err := s.client.fetch(ctx, callTimesGetEndpoint, NewParams(), &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Set replaces the account's calling hours with h: every day is sent, an empty one meaning no
// calling that day. To change one day, Get, change it and Set. It is a write: not retried unless
// ctx comes from AllowRetry.
//
// Platform API 4.4 外呼时间设置(新) (POST /api/timeSave), server version 6.5.5 and later: week1 …
// week7 (required; "HH:MM-HH:MM" ranges joined by commas, "" for none). The page is cut off
// after them; holiday and holiday_status are sent as 4.3 returns them [inferred].
func (s *CallTimesService) Set(ctx context.Context, h *CallingHours) error {
	if h == nil {
		return invalid("CallingHours", "is nil")
	}
	p := NewParams()
	for i, day := range h.Week {
		key := "week" + strconv.Itoa(i+1)
		v, err := joinRanges(fmt.Sprintf("Week[%d]", i), day)
		if err != nil {
			return err
		}
		p.Set(key, v)
	}
	v, err := joinRanges("Holiday", h.Holiday)
	if err != nil {
		return err
	}
	p.Set("holiday", v).Set("holiday_status", h.HolidayOn)
	return s.client.fetch(ctx, callTimesSetEndpoint, p, nil)
}
