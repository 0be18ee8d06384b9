package digelaotest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/pushsample"
)

// NewPushRequest returns an incoming request that delivers body to target as the platform does:
// POST, Content-Type application/json. It is for testing a digelao.PushHandler, or a handler that
// wraps one, in process:
//
//	rec := httptest.NewRecorder()
//	h.ServeHTTP(rec, digelaotest.NewPushRequest("/push?token="+token, digelaotest.SampleCallRecordPush(sn, phone)))
//	// rec.Body.String() == "SUCCESS"
//
// Like httptest.NewRequest it panics on a malformed target. To send a push over the network, POST
// the same body with an http.Client.
func NewPushRequest(target string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// SampleCallRecordPush returns the body of a call-record push (6.6.1) for the record sn and the
// number phone, PHP-encoded as the platform sends it. It follows the documented sample (6.6.2),
// then adds the 6.1 fields the sample is cut off before [inferred]: a connected call of 35
// seconds, intent grade B, with a recording.
func SampleCallRecordPush(sn, phone string) []byte { return pushsample.CallRecord(sn, phone) }

// SampleImportResultPush returns the body of an import-result push (5.7.15) for r.TaskSN,
// PHP-encoded as the platform sends it: import_mark holds r.Failure when it is set, else r.Counts,
// with the documented sample's keys in its order. r.Extra and r.Raw are not used.
func SampleImportResultPush(r digelao.ImportResult) []byte {
	var counts map[string]int
	b, err := json.Marshal(r.Counts) // the counters by their wire names
	if err == nil {
		err = json.Unmarshal(b, &counts)
	}
	if err != nil {
		panic(err) // integers always marshal
	}
	return pushsample.ImportResult(r.TaskSN, r.Failure, counts)
}

// SampleTaskAnalyticsPush returns the body of a task-analytics push (7.7) for taskSN, PHP-encoded,
// modelled on the documented sample.
func SampleTaskAnalyticsPush(taskSN string) []byte { return pushsample.TaskAnalytics(taskSN) }
