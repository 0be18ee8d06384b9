package digelao_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
)

func ExamplePushHandler() {
	h := &digelao.PushHandler{
		Token: "a-long-random-token", // the token in the URL given to SetCallback (see CallbackURL)
		OnCallRecord: func(_ context.Context, r *digelao.CallRecord) error {
			fmt.Println(r.SN, r.Phone, r.Intent(), r.TalkTime)
			return nil // nil answers SUCCESS: store r before returning
		},
		OnImportResult: func(_ context.Context, r *digelao.ImportResult) error {
			fmt.Println(r.TaskSN, r.Counts.Success, "of", r.Counts.Total, "imported")
			return nil
		},
	}
	// In a server: http.Handle("/digelao/push", h). Here: the package's test helpers.
	for _, body := range [][]byte{
		digelao.SampleCallRecordPush("account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a", "13800138000"),
		digelao.SampleImportResultPush(digelao.ImportResult{TaskSN: "dial_task_main_sn|1427a04c",
			Counts: digelao.ImportCounts{Total: 3, Success: 2, Repeat: 1}}),
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, digelao.NewPushRequest("/digelao/push?token=a-long-random-token", body))
		fmt.Println(rec.Code, rec.Body.String())
	}
	// Output:
	// account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a 13800138000 B 35
	// 200 SUCCESS
	// dial_task_main_sn|1427a04c 2 of 3 imported
	// 200 SUCCESS
}

func ExampleCallbackURL() {
	u, err := digelao.CallbackURL("https://crm.example.com/digelao/push", "a-long-random-token")
	if err != nil {
		panic(err)
	}
	fmt.Println(u)
	// Output: https://crm.example.com/digelao/push?token=a-long-random-token
}

func TestCallbackURL(t *testing.T) {
	t.Parallel()
	u, err := digelao.CallbackURL("http://10.0.0.5:8080/push?tenant=7", "t/k+n&=")
	require.NoError(t, err)
	assert.Equal(t, "http://10.0.0.5:8080/push?tenant=7&token=t%2Fk%2Bn%26%3D", u)

	var called int
	h := &digelao.PushHandler{Token: "t/k+n&=", OnCallRecord: func(context.Context, *digelao.CallRecord) error { called++; return nil }}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, digelao.NewPushRequest(u, digelao.SampleCallRecordPush("account|1", "1")))
	assert.Equal(t, "SUCCESS", rec.Body.String(), "the handler accepts the URL it is given")
	assert.Equal(t, 1, called)

	for _, tt := range []struct{ base, token, field string }{
		{"", "t", "base"}, {"ftp://x/push", "t", "base"}, {"/push", "t", "base"}, {"http://%zz", "t", "base"},
		{"https://x/push", "", "token"},
	} {
		_, err := digelao.CallbackURL(tt.base, tt.token)
		var ve *digelao.ValidationError
		require.True(t, errors.As(err, &ve), "%q %q", tt.base, tt.token)
		assert.Equal(t, tt.field, ve.Field)
	}
}

func TestSamplePushesArePHPEncoded(t *testing.T) {
	t.Parallel()
	for _, body := range [][]byte{
		digelao.SampleCallRecordPush("account|1", "13800138000"),
		digelao.SampleImportResultPush(digelao.ImportResult{TaskSN: "dial_task_main_sn|x", Failure: "导入文件为空"}),
		digelao.SampleTaskAnalyticsPush("dial_task_main_sn|x"),
	} {
		require.True(t, json.Valid(body), "%s", body)
		for _, c := range body {
			require.Less(t, c, byte(0x80), "PHP escapes non-ASCII: %s", body)
		}
		assert.NotRegexp(t, `[^\\]/`, string(body), `PHP escapes "/"`)
	}
	assert.JSONEq(t, `{"dial_task_main_sn":"dial_task_main_sn|x","import_mark":"导入文件为空"}`,
		string(digelao.SampleImportResultPush(digelao.ImportResult{TaskSN: "dial_task_main_sn|x", Failure: "导入文件为空"})))
	assert.Equal(t, "application/json", digelao.NewPushRequest("/", nil).Header.Get("Content-Type"))
}
