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

	"github.com/digelao-go/digelao/digelaotest"

	"github.com/digelao-go/digelao"
)

func ExamplePushHandler() {
	h := &digelao.PushHandler{
		Token: digelao.NewSecret("a-long-random-token"), // the Token given to SetCallback (CallbackRequest.Token)
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
		digelaotest.SampleCallRecordPush("account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a", "13800138000"),
		digelaotest.SampleImportResultPush(digelao.ImportResult{TaskSN: "dial_task_main_sn|1427a04c",
			Counts: digelao.ImportCounts{Total: 3, Success: 2, Repeat: 1}}),
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, digelaotest.NewPushRequest("/digelao/push?token=a-long-random-token", body))
		fmt.Println(rec.Code, rec.Body.String())
	}
	// Output:
	// account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a 13800138000 B 35
	// 200 SUCCESS
	// dial_task_main_sn|1427a04c 2 of 3 imported
	// 200 SUCCESS
}

func TestSetCallbackTokenReachesTheHandler(t *testing.T) {
	t.Parallel()
	srv := digelaotest.NewServer(digelaotest.WithManualTime())
	t.Cleanup(srv.Close)
	c, err := srv.Client()
	require.NoError(t, err)
	token := digelao.NewSecret("t/k+n&=")
	require.NoError(t, c.SetCallback(context.Background(), &digelao.CallbackRequest{Open: true,
		CallbackURL: "http://10.0.0.5:8080/push?tenant=7", Token: token}))
	u := srv.Callback().CallbackURL
	assert.Equal(t, "http://10.0.0.5:8080/push?tenant=7&token=t%2Fk%2Bn%26%3D", u)

	var called int
	h := &digelao.PushHandler{Token: token, OnCallRecord: func(context.Context, *digelao.CallRecord) error { called++; return nil }}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, digelaotest.NewPushRequest(u, digelaotest.SampleCallRecordPush("account|1", "1")))
	assert.Equal(t, "SUCCESS", rec.Body.String(), "the handler accepts the URL SetCallback set")
	assert.Equal(t, 1, called)

	for _, tt := range []struct{ url, field string }{
		{"", "CallbackURL"}, {"ftp://x/push", "CallbackURL"}, {"/push", "CallbackURL"}, {"http://%zz", "CallbackURL"},
		{"https://x/push?token=other", "CallbackURL"},
	} {
		err := c.SetCallback(context.Background(), &digelao.CallbackRequest{CallbackURL: tt.url, Token: token})
		var ve *digelao.ValidationError
		require.True(t, errors.As(err, &ve), "%q", tt.url)
		assert.Equal(t, tt.field, ve.Field)
	}
}

func TestSamplePushesArePHPEncoded(t *testing.T) {
	t.Parallel()
	for _, body := range [][]byte{
		digelaotest.SampleCallRecordPush("account|1", "13800138000"),
		digelaotest.SampleImportResultPush(digelao.ImportResult{TaskSN: "dial_task_main_sn|x", Failure: "导入文件为空"}),
		digelaotest.SampleTaskAnalyticsPush("dial_task_main_sn|x"),
	} {
		require.True(t, json.Valid(body), "%s", body)
		for _, c := range body {
			require.Less(t, c, byte(0x80), "PHP escapes non-ASCII: %s", body)
		}
		assert.NotRegexp(t, `[^\\]/`, string(body), `PHP escapes "/"`)
	}
	assert.JSONEq(t, `{"dial_task_main_sn":"dial_task_main_sn|x","import_mark":"导入文件为空"}`,
		string(digelaotest.SampleImportResultPush(digelao.ImportResult{TaskSN: "dial_task_main_sn|x", Failure: "导入文件为空"})))
	assert.Equal(t, "application/json", digelaotest.NewPushRequest("/", nil).Header.Get("Content-Type"))
}
