package digelao

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCallTimesGet(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	got := serveReply(t, mt, "POST", "/api/callTimeList", "admin_calltimes.json")
	h, err := c.CallTimes.Get(context.Background())
	require.NoError(t, err)
	assertPost(t, got, "/api/callTimeList", commonJSON+`}`)
	workday := TimeRanges{{"08:30", "12:00"}, {"13:30", "20:30"}}
	want := &CallingHours{Monday: workday, Tuesday: workday, Wednesday: workday, Thursday: workday, Friday: workday,
		Saturday: TimeRanges{{"09:00", "12:00"}}, Holiday: workday, HolidayOn: true}
	assert.Equal(t, want, h)
	assert.Equal(t, &h.Saturday, h.Day(time.Saturday))

	// It survives JSON, in the platform's own form.
	b, err := json.Marshal(h)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"week1":"08:30-12:00,13:30-20:30"`)
	var back CallingHours
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, *want, back)
}

func TestCallTimesSet(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got captured
	mt.RegisterResponder("POST", testBase+"/api/timeSave", capture(&got, 200, `{"code":0,"msg":"保存成功"}`))
	h := CallingHours{Holiday: TimeRanges{{"10:00", "12:00"}}}
	for d := time.Monday; d <= time.Friday; d++ {
		*h.Day(d) = TimeRanges{{"08:30", "12:00"}, {"13:30", "24:00"}}
	}
	require.NoError(t, c.CallTimes.Set(context.Background(), &h))
	day := `"08:30-12:00,13:30-24:00"`
	assertPost(t, &got, "/api/timeSave", commonJSON+`,"week1":`+day+`,"week2":`+day+`,"week3":`+day+`,"week4":`+day+
		`,"week5":`+day+`,"week6":"","week7":"","holiday":"10:00-12:00","holiday_status":"0"}`)
}

func TestCallTimesRefuseBadRanges(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	for _, r := range []TimeRanges{
		{{"8:30", "12:00"}},                      // not HH:MM
		{{"08:60", "12:00"}},                     // minute out of range
		{{"24:00", "24:00"}},                     // 24:00 only as an end
		{{"12:00", "08:00"}},                     // backwards
		{{"09:00", "09:00"}},                     // empty
		{{"08:00", "12:00"}, {"11:00", "13:00"}}, // overlap
		{{"13:00", "14:00"}, {"08:00", "09:00"}}, // out of order
		{{"08:00-", "09:00"}},
	} {
		h := CallingHours{Wednesday: r}
		err := c.CallTimes.Set(context.Background(), &h)
		assertNothingSent(t, mt, err, r)
		var ve *ValidationError
		if assert.ErrorAs(t, err, &ve) {
			assert.Equal(t, "Wednesday", ve.Field)
		}
	}
	err := c.CallTimes.Set(context.Background(), &CallingHours{Holiday: TimeRanges{{"x", "y"}}})
	assertNothingSent(t, mt, err)
	assertNothingSent(t, mt, c.CallTimes.Set(context.Background(), nil))
}

func TestCallingHoursRejectsAMalformedReply(t *testing.T) {
	t.Parallel()
	var h CallingHours
	require.Error(t, h.UnmarshalJSON([]byte(`{"week1":"08:30~12:00"}`)))
}
