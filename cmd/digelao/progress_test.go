package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/digelao-go/digelao/internal/testkit"
)

func TestMeter(t *testing.T) {
	var w testkit.SyncBuffer
	stop := startMeter(&w, false, func() string { return "working" })
	stop(true)
	assert.Empty(t, w.String(), "off (not a terminal): nothing")

	var s statusText
	s.set("step %d of %d", 1, 2)
	stop = startMeter(&w, true, s.get)
	s.set("step %d", 2)
	stop(true)
	stop(false) // a second stop does nothing
	assert.Equal(t, "\rstep 1 of 2\rstep 2     \n", w.String(), "at once, then the last, over the longer one, then the line ends")

	var cleared testkit.SyncBuffer
	stop = startMeter(&cleared, true, func() string { return "步骤" })
	stop(false)
	assert.Equal(t, "\r步骤\r    \r", cleared.String(), "a phase over: the line cleared, by display width")

	var none testkit.SyncBuffer
	stop = startMeter(&none, true, func() string { return "" })
	stop(true)
	assert.Empty(t, none.String(), "nothing to show: not even a line end")
}
