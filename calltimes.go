package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

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

// TimeRanges are a day's calling windows, written on the wire as the platform writes them:
// "08:30-12:00,13:30-20:30", "" for none.
type TimeRanges []TimeRange

func (rs TimeRanges) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// UnmarshalJSON reads "08:30-12:00,13:30-20:30"; "" and null are no range.
func (rs *TimeRanges) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*rs = nil
	if s == nil {
		return nil
	}
	for f := range strings.SplitSeq(*s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		from, to, ok := strings.Cut(f, "-")
		if !ok {
			return fmt.Errorf("calling hours: %q is not HH:MM-HH:MM", f)
		}
		*rs = append(*rs, TimeRange{strings.TrimSpace(from), strings.TrimSpace(to)})
	}
	return nil
}

// MarshalJSON writes the ranges as the platform does.
func (rs TimeRanges) MarshalJSON() ([]byte, error) { return json.Marshal(rs.String()) }

// CallingHours is the account's calling schedule (4.3, 4.4). A day with no ranges has no
// calling. [inferred: week1 is Monday and week7 Sunday; the pages do not say.]
type CallingHours struct {
	Monday    TimeRanges `json:"week1"`
	Tuesday   TimeRanges `json:"week2"`
	Wednesday TimeRanges `json:"week3"`
	Thursday  TimeRanges `json:"week4"`
	Friday    TimeRanges `json:"week5"`
	Saturday  TimeRanges `json:"week6"`
	Sunday    TimeRanges `json:"week7"`
	// Holiday holds the ranges used on public holidays, and HolidayOn (holiday_status) whether
	// that holiday schedule applies [inferred from 4.3's reply; 4.4's page is cut off before them].
	Holiday   TimeRanges `json:"holiday"`
	HolidayOn bool       `json:"holiday_status"`
}

var callingHoursCodec = flex.NewCodec[CallingHours]()

// UnmarshalJSON decodes the reply of 4.3.
func (h *CallingHours) UnmarshalJSON(b []byte) error { return callingHoursCodec.Decode(b, h) }

// MarshalJSON writes the hours with the platform's member names.
func (h CallingHours) MarshalJSON() ([]byte, error) { return callingHoursCodec.Encode(&h) }

// Day returns the ranges of weekday d.
func (h *CallingHours) Day(d time.Weekday) *TimeRanges {
	return [...]*TimeRanges{&h.Sunday, &h.Monday, &h.Tuesday, &h.Wednesday, &h.Thursday, &h.Friday, &h.Saturday}[d]
}

// days returns the week's ranges in wire order, week1 to week7.
func (h *CallingHours) days() [7]TimeRanges {
	return [7]TimeRanges{h.Monday, h.Tuesday, h.Wednesday, h.Thursday, h.Friday, h.Saturday, h.Sunday}
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
func joinRanges(field string, ranges TimeRanges) (string, error) {
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
	if err := fetchWith(ctx, s.client, callTimesGetEndpoint, NewParams(), callingHoursCodec, &h); err != nil {
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
	for i, day := range h.days() {
		v, err := joinRanges(time.Weekday((i+1)%7).String(), day)
		if err != nil {
			return err
		}
		p.Set("week"+strconv.Itoa(i+1), v)
	}
	v, err := joinRanges("Holiday", h.Holiday)
	if err != nil {
		return err
	}
	p.Set("holiday", v).Set("holiday_status", h.HolidayOn)
	return s.client.fetch(ctx, callTimesSetEndpoint, p, nil)
}
