package digelaotest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

func newServer(t *testing.T, opts ...digelaotest.Option) *digelaotest.Server {
	t.Helper()
	srv := digelaotest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, srv *digelaotest.Server, opts ...digelao.Option) *digelao.Client {
	t.Helper()
	c, err := srv.Client(opts...)
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawClient sends requests without keeping connections, so tests leave no goroutines behind.
var rawClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}

// session logs the default account in with a raw password login and returns user_sn and api_key.
func session(t *testing.T, srv *digelaotest.Server) (string, string) {
	t.Helper()
	p := digelao.NewParams().Set("username", digelaotest.Username).Set("password", digelaotest.Password).Set("from", "2")
	reply := post(t, srv.URL+"/api/login", signedJSON(t, p))
	require.EqualValues(t, 0, reply["code"], reply)
	data := reply["data"].(map[string]any)
	return data["user_sn"].(string), data["api_key"].(string)
}

// common returns params starting with user_sn and api_key.
func common(userSN, apiKey string) *digelao.Params {
	return digelao.NewParams().Set("user_sn", userSN).Set("api_key", apiKey)
}

// signedJSON is p's PHP JSON with url appended, as the SDK sends a POST.
func signedJSON(t *testing.T, p *digelao.Params) string {
	t.Helper()
	b, err := p.MarshalJSON()
	require.NoError(t, err)
	sig, err := digelao.Sign(p)
	require.NoError(t, err)
	return strings.TrimSuffix(string(b), "}") + `,"url":"` + sig + `"}`
}

// signedQuery is p (scalars only) as a query in order with url appended.
func signedQuery(t *testing.T, p *digelao.Params) string {
	t.Helper()
	var q []string
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(v.(string)))
	}
	sig, err := digelao.Sign(p)
	require.NoError(t, err)
	return strings.Join(q, "&") + "&url=" + sig
}

// post sends body as JSON and decodes the reply.
func post(t *testing.T, u, body string) map[string]any {
	t.Helper()
	resp, err := rawClient.Post(u, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	return decodeReply(t, resp)
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := rawClient.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func decodeReply(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	return out
}

// call logs in once per server and POSTs p (after user_sn and api_key) to path.
type caller struct {
	t              *testing.T
	srv            *digelaotest.Server
	userSN, apiKey string
}

func newCaller(t *testing.T, srv *digelaotest.Server) *caller {
	sn, key := session(t, srv)
	return &caller{t: t, srv: srv, userSN: sn, apiKey: key}
}

// callerFor shares the session of an SDK client.
func callerFor(t *testing.T, srv *digelaotest.Server, c *digelao.Client) *caller {
	sess, err := c.Login(testCtx(t))
	require.NoError(t, err)
	return &caller{t: t, srv: srv, userSN: sess.UserSN, apiKey: sess.APIKey.Value()}
}

func (c *caller) params() *digelao.Params { return common(c.userSN, c.apiKey) }

func (c *caller) post(path string, p *digelao.Params) map[string]any {
	c.t.Helper()
	all := c.params()
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		all.Set(k, v)
	}
	return post(c.t, c.srv.URL+path, signedJSON(c.t, all))
}

// multipart sends fields (signed, in order) and one file as multipart/form-data.
func (c *caller) multipart(path string, p *digelao.Params, fileName string, data []byte) map[string]any {
	c.t.Helper()
	all := c.params()
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		all.Set(k, v)
	}
	sig, err := digelao.Sign(all)
	require.NoError(c.t, err)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, k := range all.Keys() {
		v, _ := all.Get(k)
		require.NoError(c.t, mw.WriteField(k, v.(string)))
	}
	require.NoError(c.t, mw.WriteField("url", sig))
	if fileName != "" {
		fw, err := mw.CreateFormFile("upload", fileName)
		require.NoError(c.t, err)
		_, err = fw.Write(data)
		require.NoError(c.t, err)
	}
	require.NoError(c.t, mw.Close())
	resp, err := rawClient.Post(c.srv.URL+path, mw.FormDataContentType(), &body)
	require.NoError(c.t, err)
	return decodeReply(c.t, resp)
}

// get sends p (after user_sn and api_key) as a signed GET.
func (c *caller) get(path string, p *digelao.Params) (*http.Response, []byte) {
	c.t.Helper()
	all := c.params()
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		all.Set(k, v)
	}
	return get(c.t, c.srv.URL+path+"?"+signedQuery(c.t, all))
}

// receiver is a push endpoint that records what it receives and answers with reply(n), n counting
// the requests from 1.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	paths  []string
}

func newReceiver(t *testing.T, reply func(n int) string) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, string(b))
		rc.paths = append(rc.paths, r.URL.Path)
		n := len(rc.bodies)
		rc.mu.Unlock()
		_, _ = io.WriteString(w, reply(n))
	}))
	t.Cleanup(rc.Close)
	return rc
}

// received returns the bodies posted to path.
func (rc *receiver) received(path string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for i, p := range rc.paths {
		if p == path {
			out = append(out, rc.bodies[i])
		}
	}
	return out
}

func always(s string) func(int) string { return func(int) string { return s } }

// rows builds client_info_json from phone numbers, with a name per row.
func rows(phones ...string) *digelao.Params {
	var list []*digelao.Params
	for i, ph := range phones {
		list = append(list, digelao.NewParams().Set("姓名", "客户"+string(rune('A'+i))).Set("电话", ph).Set("备注", "测试/老客户"))
	}
	return digelao.NewParams().Set("data", list)
}

// createTask imports phones into a new task of the default template with the SDK.
func createTask(t *testing.T, c *digelao.Client, path, name string, autoStart bool, phones ...string) (int64, string) {
	t.Helper()
	p := digelao.NewParams().Set("source", name).Set("project_sn", digelaotest.TemplateSN).
		Set("ai_user_sn", digelaotest.SeatSN)
	if autoStart {
		p.Set("is_zidong", "on")
	}
	p.Set("client_info_json", rows(phones...))
	var out struct {
		ID int64  `json:"dial_task_main_id"`
		SN string `json:"dial_task_main_sn"`
	}
	require.NoError(t, c.Do(testCtx(t), "POST", path, p, &out))
	require.NotZero(t, out.ID)
	require.True(t, strings.HasPrefix(out.SN, "dial_task_main_sn|"), out.SN)
	return out.ID, out.SN
}
