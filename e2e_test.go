package digelao_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/testkit"
)

// fakeClient starts the fake platform and a client that logs at debug level into logs.
func fakeClient(t *testing.T, logs *testkit.SyncBuffer, opts ...digelao.Option) (*digelaotest.Server, *digelao.Client) {
	t.Helper()
	srv := digelaotest.NewServer()
	t.Cleanup(srv.Close)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := srv.Client(append([]digelao.Option{digelao.WithLogger(logger), digelao.WithRetries(1, time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

func TestEndToEndAgainstTheFake(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()

	s, err := c.Login(ctx)
	require.NoError(t, err)
	assert.Equal(t, digelaotest.UserSN, s.UserSN)
	assert.True(t, s.ExpiresAt.After(time.Now().Add(time.Hour)))

	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{Open: true,
		CallbackURL: "https://crm.example.com/push?token=t0k3n", TaskCallbackURL: "https://crm.example.com/import"}))
	assert.Equal(t, digelao.CallbackRequest{Open: true, CallbackURL: "https://crm.example.com/push?token=t0k3n",
		TaskCallbackURL: "https://crm.example.com/import"}, srv.Callback())

	// GET with a query the fake parses like PHP's $_GET, and a signature it recomputes.
	var cols [][]string
	require.NoError(t, c.Do(ctx, "GET", "/api/exportModel",
		digelao.NewParams().Set("project_sn", digelaotest.TemplateSN).Set("type", "json"), &cols))
	require.NotEmpty(t, cols)
	assert.Contains(t, cols[0], "*电话")

	// POST JSON.
	var list struct {
		Total int `json:"total"`
	}
	require.NoError(t, c.Do(ctx, "POST", "/api/index", digelao.NewParams().Set("pageIndex", 0).Set("pageSize", 20), &list))
	assert.Equal(t, 1, len(srv.Logins()), "one login for every call so far")
}

func TestEndToEndReloginAfterKeyExpires(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()
	params := digelao.NewParams().Set("pageIndex", 0)
	require.NoError(t, c.Do(ctx, "POST", "/api/index", params, nil))

	srv.FailNext(1, digelao.CodeAPIKeyExpired)
	require.NoError(t, c.Do(ctx, "POST", "/api/index", params, nil))
	assert.Len(t, srv.Logins(), 2, "one re-login, then the call is repeated once")

	// Another instance logs in with the same account: this client's key is cancelled.
	other, err := srv.Client()
	require.NoError(t, err)
	_, err = other.Login(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Do(ctx, "POST", "/api/index", params, nil))
	assert.Len(t, srv.Logins(), 4)
}

func TestEndToEndFaults(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	srv, c := fakeClient(t, &logs)
	ctx := context.Background()
	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{CallbackURL: "http://h/p"}))

	srv.FailNextHTTP(1, 502)
	var apiErr *digelao.APIError
	require.ErrorAs(t, c.SetCallback(ctx, &digelao.CallbackRequest{CallbackURL: "http://h/p"}), &apiErr)
	assert.Equal(t, 502, apiErr.HTTPStatus, "a write is not retried")

	srv.FailNextHTTP(1, 503)
	require.NoError(t, c.Do(digelao.AllowRetry(ctx), "GET", "/api/exportModel",
		digelao.NewParams().Set("project_sn", digelaotest.TemplateSN).Set("type", "json"), nil), "a read is retried")

	srv.FailNext(1, digelao.CodePermission)
	require.ErrorIs(t, c.SetCallback(ctx, &digelao.CallbackRequest{CallbackURL: "http://h/p"}), digelao.ErrPermission)
}

// TestNoSecretInLogsOrErrors runs the client's calls at debug level against the fake — successes,
// platform errors, re-logins and transport failures — and checks that no api_key, password,
// access secret or signature appears in any log line or error.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	t.Parallel()
	for _, login := range []string{"password", "access key"} {
		t.Run(login, func(t *testing.T) {
			t.Parallel()
			var logs testkit.SyncBuffer
			opt := digelao.WithPassword(digelaotest.Username, digelaotest.Password)
			if login == "access key" {
				opt = digelao.WithAccessKey(digelaotest.AccessID, digelaotest.AccessSecret)
			}
			srv := digelaotest.NewServer(digelaotest.WithImportResultPath(importResultPath))
			defer srv.Close()
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c, err := digelao.New(srv.URL, opt, digelao.WithLogger(logger), digelao.WithRetries(1, time.Millisecond),
				digelao.WithImportStatePath(importResultPath))
			require.NoError(t, err)
			defer c.CloseIdleConnections()
			ctx := context.Background()

			var errs []error
			record := func(err error) {
				if err != nil {
					errs = append(errs, err)
				}
			}
			for _, call := range publicCalls() {
				record(call(ctx, c))
				srv.FailNext(1, digelao.CodeAPIKeyInvalid)
				record(call(ctx, c))
				srv.FailNextHTTP(2, 500)
				record(call(ctx, c))
			}
			// A transport failure on a GET, whose URL carries the api_key in its query.
			srv.Inject(digelaotest.Fault{Times: 2, Drop: true})
			record(c.Do(ctx, "GET", "/api/exportModel", digelao.NewParams().Set("project_sn", digelaotest.TemplateSN), nil))

			secrets := []string{digelaotest.Password, digelaotest.AccessSecret}
			for _, req := range srv.Requests() {
				for _, p := range req.Params {
					if p.Key == "api_key" || p.Key == "sign" || p.Key == "password" || p.Key == "secret" {
						secrets = append(secrets, p.Value)
					}
				}
				if req.URL != "" {
					secrets = append(secrets, req.URL)
				}
			}
			require.NotEmpty(t, logs.String())
			require.NotEmpty(t, errs, "the faults produced errors to inspect")
			for i, s := range secrets {
				if s == "" {
					continue
				}
				// Report which secret leaked by its position, never by its value.
				assert.False(t, strings.Contains(logs.String(), s), "secret #%d appears in the logs", i)
				for _, err := range errs {
					assert.False(t, strings.Contains(err.Error(), s), "secret #%d appears in an error", i)
				}
			}
			assert.False(t, strings.Contains(logs.String(), "url="), "no query string in logs")
		})
	}
}

// publicCalls lists a call for every public client method that talks to the platform.
func publicCalls() []func(context.Context, *digelao.Client) error {
	return slices.Concat(coreCalls(), serviceCalls(), adminCalls())
}

// coreCalls covers the client's own methods.
func coreCalls() []func(context.Context, *digelao.Client) error {
	return []func(context.Context, *digelao.Client) error{
		func(ctx context.Context, c *digelao.Client) error { _, err := c.Login(ctx); return err },
		func(ctx context.Context, c *digelao.Client) error {
			return c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: "https://h/p?token=x"})
		},
		func(ctx context.Context, c *digelao.Client) error {
			return c.Do(ctx, "POST", "/api/index", digelao.NewParams().Set("pageIndex", 0), nil)
		},
		func(ctx context.Context, c *digelao.Client) error {
			return c.Do(ctx, "GET", "/api/exportModel", digelao.NewParams().Set("project_sn", digelaotest.TemplateSN).Set("type", "json"), nil)
		},
	}
}
