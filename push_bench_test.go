//go:build unix

package digelao_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/pushsample"
)

// The push benchmarks put PushHandler beside a fair baseline: a bare http.Handler that reads the
// body, decodes it with encoding/json into a plain struct of the record's members and answers
// SUCCESS. Both take the same pushes, the 6.6.2 sample each with a new sn, so that none is a
// duplicate. Rounds alternate the two (r01/sdk, r01/bare, r02/bare, r02/sdk, …) so that whatever
// else the machine does falls on both; the ratio of pushes/s is bare's ns/op ÷ the SDK's, round by
// round, and cpu-ns/op (the process's CPU time) gives the same ratio less disturbed by a busy
// machine:
//
//	go test -run '^$' -bench '^BenchmarkPush(Direct|Loopback)$' -benchmem -benchtime 100ms .
const benchRounds = 16

// BenchmarkPushDirect calls ServeHTTP as the server would, with a POST of JSON.
func BenchmarkPushDirect(b *testing.B) {
	direct := func(h http.Handler) func(*testing.B) {
		return func(b *testing.B) {
			push := newPushBodies()
			u := &url.URL{Path: "/push"}
			var body []byte
			for b.Loop() {
				body = push.next(body)
				r := &http.Request{Method: http.MethodPost, URL: u, RequestURI: "/push", Proto: "HTTP/1.1", ProtoMajor: 1,
					ProtoMinor: 1, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body)),
					ContentLength: int64(len(body)), Host: "receiver.example", RemoteAddr: "192.0.2.1:40000"}
				var w answer
				h.ServeHTTP(&w, r)
				if w.status != http.StatusOK || string(w.body) != "SUCCESS" {
					b.Fatalf("answered %d %q", w.status, w.body)
				}
			}
		}
	}
	pushRounds(b, direct(benchPushHandler()), direct(http.HandlerFunc(barePush)))
}

// BenchmarkPushLoopback posts over loopback from 64 concurrent posters. The posting client's
// allocations count too.
func BenchmarkPushLoopback(b *testing.B) {
	sdk, bare := httptest.NewServer(benchPushHandler()), httptest.NewServer(http.HandlerFunc(barePush))
	defer sdk.Close()
	defer bare.Close()
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	posters := (64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	loopback := func(target string) func(*testing.B) {
		return func(b *testing.B) {
			push := newPushBodies()
			b.SetParallelism(posters)
			b.RunParallel(func(pb *testing.PB) {
				var body []byte
				for pb.Next() {
					body = push.next(body)
					if err := post(hc, target, body); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
	}
	pushRounds(b, loopback(sdk.URL+"/push"), loopback(bare.URL+"/push"))
}

// pushRounds runs sdk and bare in benchRounds rounds, alternating which goes first.
func pushRounds(b *testing.B, sdk, bare func(*testing.B)) {
	for i := range benchRounds {
		first, second := "sdk", "bare"
		if i%2 == 1 {
			first, second = second, first
		}
		for _, name := range []string{first, second} {
			bench := sdk
			if name == "bare" {
				bench = bare
			}
			b.Run(fmt.Sprintf("r%02d/%s", i+1, name), func(b *testing.B) {
				start := cpuTime(b)
				bench(b)
				b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime returns the CPU time the process has used, in user and system mode.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPushHandler is a PushHandler as the README sets one up, without a Token (the bare handler
// checks none).
func benchPushHandler() *digelao.PushHandler {
	var handled atomic.Int64
	return &digelao.PushHandler{OnCallRecord: func(context.Context, *digelao.CallRecord) error {
		handled.Add(1)
		return nil
	}}
}

// plainRecord is a call-record push as a hand-written receiver would declare it.
type plainRecord struct {
	ID                 int64   `json:"id"`
	SN                 string  `json:"sn"`
	Phone              string  `json:"phone"`
	Name               string  `json:"name"`
	UserSN             string  `json:"user_sn"`
	UserName           string  `json:"user_name"`
	ParentSN           string  `json:"parent_sn"`
	TeamSN             string  `json:"team_sn"`
	TeamName           string  `json:"team_name"`
	TaskSN             string  `json:"dial_task_main_sn"`
	Source             string  `json:"source"`
	ProjectSN          string  `json:"project_sn"`
	ProjectCaption     string  `json:"project_caption"`
	Address            string  `json:"address"`
	Unit               string  `json:"unit"`
	UnitPhone          *string `json:"unit_phone"`
	RecordPath         string  `json:"recordpath"`
	RecordFile         string  `json:"recordfile"`
	Status             string  `json:"status"`
	StatusManual       string  `json:"status_manual"`
	Operator           string  `json:"operator"`
	Mark               string  `json:"mark"`
	HangupSerial       string  `json:"hangup_serial_number"`
	TalkTime           int     `json:"talktimes"`
	TurnCount          int     `json:"turn_count"`
	AsksCount          int     `json:"asks_count"`
	Score              float64 `json:"score"`
	TransferredToAgent int     `json:"is_transfertoagent"`
	CreatedAt          string  `json:"created_at"`
	UpdatedAt          string  `json:"updated_at"`
	StartedAt          string  `json:"started_at"`
	ConnectedAt        string  `json:"connected_at"`
	DisconnectedAt     string  `json:"disconnected_at"`
}

// barePush is the baseline receiver.
func barePush(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	var rec plainRecord
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil || rec.SN == "" {
		http.Error(w, "bad push", http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, "SUCCESS")
}

// pushBodies makes call-record pushes that differ only in their sn, which counts up.
type pushBodies struct {
	tmpl []byte
	at   int // where the sn's last 16 hex digits start
	n    atomic.Uint64
}

func newPushBodies() *pushBodies {
	const sn = "account|a6505ba3c1d94e7f0000000000000000"
	tmpl := pushsample.CallRecord(sn, "15800000000")
	return &pushBodies{tmpl: tmpl, at: bytes.Index(tmpl, []byte(sn)) + len(sn) - 16}
}

// next returns the next push, in b's storage when it has room.
func (p *pushBodies) next(b []byte) []byte {
	b = append(b[:0], p.tmpl...)
	n := p.n.Add(1)
	for i := 15; i >= 0; i-- {
		b[p.at+i] = "0123456789abcdef"[n&0xf]
		n >>= 4
	}
	return b
}

// answer is the least a ResponseWriter can be, so that the direct calls measure the handlers.
type answer struct {
	header http.Header
	status int
	body   []byte
}

func (w *answer) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *answer) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *answer) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}

// post POSTs a push to target and checks the answer.
func post(hc *http.Client, target string, body []byte) error {
	resp, err := hc.Post(target, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err == nil && (resp.StatusCode != http.StatusOK || string(b) != "SUCCESS") {
		err = fmt.Errorf("answered %d %q", resp.StatusCode, b)
	}
	return err
}
