package digelao_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

// pushStore is a receiver's storage that fails each event's first write.
type pushStore struct {
	mu       sync.Mutex
	attempts map[string]int // callback calls per call-record sn or import task sn
	records  map[string]int // call records stored, per sn
	imports  []*digelao.ImportResult
}

// write stores an event under key unless it is the key's first attempt.
func (s *pushStore) write(key string, store func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[key]++
	if s.attempts[key] == 1 {
		return errors.New("first write fails")
	}
	store()
	return nil
}

// TestEndToEndPushesArriveOnce has the fake platform push an import result and a call record per
// contact to a PushHandler. The receiver fails each event's first delivery, and the
// acknowledgement of each call record's second delivery is lost on the way back: the platform
// retries both, and still every event is stored exactly once.
func TestEndToEndPushesArriveOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := digelaotest.NewServer(digelaotest.WithManualTime())
	t.Cleanup(fake.Close)
	c, err := fake.Client()
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)

	store := &pushStore{attempts: map[string]int{}, records: map[string]int{}}
	token := digelao.NewSecret(rand.Text())
	h := &digelao.PushHandler{
		Token: token,
		OnCallRecord: func(_ context.Context, r *digelao.CallRecord) error {
			return store.write(r.SN, func() { store.records[r.SN]++ })
		},
		OnImportResult: func(_ context.Context, r *digelao.ImportResult) error {
			return store.write(r.TaskSN, func() { store.imports = append(store.imports, r) })
		},
	}
	var mu sync.Mutex
	acked := map[string]int{} // SUCCESS answers per body
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		mu.Lock()
		first := rec.Code == http.StatusOK && acked[string(body)] == 0
		if rec.Code == http.StatusOK {
			acked[string(body)]++
		}
		mu.Unlock()
		if first && !bytes.Contains(body, []byte(`"import_mark"`)) {
			http.Error(w, "acknowledgement lost", http.StatusBadGateway) // stored, but the platform does not hear it
			return
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(rcv.Close)

	pushURL := rcv.URL + "/digelao/push"
	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: pushURL, TaskCallbackURL: pushURL, Token: token}))

	phones := []string{"13800138000", "13900139000", "13700137000", "13600136000", "13500135000"}
	rows := make([]*digelao.Params, len(phones))
	for i, p := range phones {
		rows[i] = digelao.NewParams().Set("姓名", fmt.Sprintf("客户%d", i+1)).Set("电话", p)
	}
	var created struct {
		TaskSN string `json:"dial_task_main_sn"`
	}
	require.NoError(t, c.Do(ctx, http.MethodPost, "/api/addJsonOfAsync", digelao.NewParams().
		Set("project_sn", digelaotest.TemplateSN).Set("source", "推送测试").Set("ai_user_sn", digelaotest.SeatSN).
		Set("is_zidong", "on").Set("client_info_json", digelao.NewParams().Set("data", rows)), &created))
	require.NotEmpty(t, created.TaskSN)

	require.NoError(t, fake.Flush(ctx))

	// The import result: once, after one failed delivery.
	require.Len(t, store.imports, 1)
	assert.Equal(t, created.TaskSN, store.imports[0].TaskSN)
	assert.Equal(t, digelao.ImportCounts{Total: len(phones), Success: len(phones)}, store.imports[0].Counts)
	assert.Equal(t, 2, store.attempts[created.TaskSN])

	// Every call record: once, though delivered three times and its callback run twice.
	var want []string
	for _, r := range fake.CallRecords() {
		want = append(want, r.SN)
		assert.True(t, r.Pushed, "the platform heard SUCCESS for %s", r.SN)
		assert.Equal(t, 2, store.attempts[r.SN], "the third delivery is a duplicate: no callback")
	}
	require.Len(t, want, len(phones))
	assert.ElementsMatch(t, want, slices.Collect(maps.Keys(store.records)))
	for sn, n := range store.records {
		assert.Equal(t, 1, n, sn)
	}

	// What the platform saw: per call record a 500, a 502 and SUCCESS; for the import a 500 and SUCCESS.
	statuses := map[digelaotest.PushKind][]int{}
	for _, p := range fake.Pushes() {
		require.NoError(t, p.Err)
		statuses[p.Kind] = append(statuses[p.Kind], p.Status)
	}
	assert.ElementsMatch(t, []int{500, 200}, statuses[digelaotest.PushImport])
	assert.Len(t, statuses[digelaotest.PushCall], 3*len(phones))
	for _, code := range []int{500, 502, 200} {
		assert.Equal(t, len(phones), countOf(statuses[digelaotest.PushCall], code), "status %d", code)
	}
}

func countOf(list []int, v int) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}
