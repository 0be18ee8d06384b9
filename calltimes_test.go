package digelao_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/testkit"
)

func TestEndToEndCallTimes(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	_, c := fakeClient(t, &logs)
	ctx := context.Background()

	h, err := c.CallTimes.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, digelao.TimeRanges{{From: "08:30", To: "12:00"}, {From: "13:30", To: "20:30"}}, h.Monday)

	h.Sunday = nil
	h.Saturday = digelao.TimeRanges{{From: "09:00", To: "11:30"}}
	h.HolidayOn = false
	require.NoError(t, c.CallTimes.Set(ctx, h))
	got, err := c.CallTimes.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, h, got)
}
