package digelaotest_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
	"github.com/digelao-go/digelao/internal/flex"
)

func TestPasswordLoginWithSDK(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	before := time.Now()
	sess, err := c.Login(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, digelaotest.UserSN, sess.UserSN)
	assert.Regexp(t, `^[A-Za-z0-9]{8}$`, sess.APIKey.Value())
	assert.Equal(t, digelaotest.Username, sess.UserName)
	assert.Equal(t, "管理员", sess.Job)
	assert.Equal(t, 5, sess.AICount)
	assert.WithinDuration(t, before.Add(2*time.Hour), sess.ExpiresAt, 2*time.Second)

	logins := srv.Logins()
	require.Len(t, logins, 1)
	assert.Equal(t, "2", logins[0].From)
	assert.Equal(t, sess.APIKey.Value(), logins[0].APIKey)
	assert.Equal(t, 0, logins[0].Code)
}

func TestLoginReplyShape(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	p := digelao.NewParams().Set("username", digelaotest.Username).Set("password", digelaotest.Password).Set("from", "2")
	resp, err := rawClient.Post(srv.URL+"/api/login", "application/json", strings.NewReader(signedJSON(t, p)))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	body := string(b)
	// code, data, msg in that order; data's fields in the captured order; Chinese as \u escapes.
	assert.Regexp(t, `^\{"code":0,"data":\{"id":3635,"user_sn":"SYSUSER\|[0-9a-f]{32}","user_name":"demo",`+
		`"team_name":"\\u4eba\\u5de5\\u667a\\u80fd\\u5ba2\\u6237\\u7ec4","expired":"2099-12-31","ai_count":5,`+
		`"caller_group":"912143","api_key":"[A-Za-z0-9]{8}","parent_sn":null,"status":null,"api_key_expire":\d+,`+
		`"team_sn":"SON\|8156510022","job":"\\u7ba1\\u7406\\u5458"\},"msg":"login success"\}$`, body)
}

func TestAccessKeyLogin(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c, err := digelao.New(srv.URL, digelao.WithAccessKey(digelaotest.AccessID, digelaotest.AccessSecret))
	require.NoError(t, err)
	sess, err := c.Login(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, digelaotest.UserSN, sess.UserSN)
	assert.Equal(t, "1", srv.Logins()[0].From)

	t.Run("timestamp outside five minutes", func(t *testing.T) {
		clock := digelaotest.NewClock(time.Now().Add(6 * time.Minute))
		srv := newServer(t, digelaotest.WithClock(clock.Now))
		c, err := digelao.New(srv.URL, digelao.WithAccessKey(digelaotest.AccessID, digelaotest.AccessSecret))
		require.NoError(t, err)
		_, err = c.Login(testCtx(t))
		assert.ErrorIs(t, err, digelao.ErrInvalidCredentials)
		clock.Set(time.Now().Add(4 * time.Minute))
		_, err = c.Login(testCtx(t))
		assert.NoError(t, err)
	})
	t.Run("wrong secret", func(t *testing.T) {
		c, err := digelao.New(srv.URL, digelao.WithAccessKey(digelaotest.AccessID, "nope"))
		require.NoError(t, err)
		_, err = c.Login(testCtx(t))
		assert.ErrorIs(t, err, digelao.ErrInvalidCredentials)
	})
	t.Run("sign by hand, from as a JSON number, no url", func(t *testing.T) {
		ts := time.Now().In(flex.China).Format(time.DateTime)
		sum := md5.Sum([]byte(digelaotest.AccessID + digelaotest.AccessSecret + ts))
		body := `{"api_access_id":"` + digelaotest.AccessID + `","from":1,"sign":"` + hex.EncodeToString(sum[:]) +
			`","timestamp":"` + ts + `"}`
		reply := post(t, srv.URL+"/api/login", body)
		assert.EqualValues(t, 0, reply["code"], reply)
	})
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	login := func(user, pass, from string) map[string]any {
		p := digelao.NewParams().Set("username", user).Set("password", pass).Set("from", from)
		return post(t, srv.URL+"/api/login", signedJSON(t, p))
	}
	assert.Equal(t, map[string]any{"code": 20004.0, "msg": "用户名或者密码错误"}, login(digelaotest.Username, "wrong", "2"))
	assert.Equal(t, map[string]any{"code": 20004.0, "msg": "用户名或者密码错误"}, login("nobody", "x", "2"))
	assert.Equal(t, map[string]any{"code": 20003.0, "msg": "客户端类型不存在"}, login(digelaotest.Username, digelaotest.Password, "3"))

	unsigned := `{"username":"` + digelaotest.Username + `","password":"` + digelaotest.Password + `","from":"2"}`
	assert.Equal(t, 10001.0, post(t, srv.URL+"/api/login", unsigned)["code"], "1.3 needs url")

	resp, body := get(t, srv.URL+"/api/login?username=demo")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"code":20001,"msg":"数据传输方式错误"}`, string(body))
	for _, l := range srv.Logins() {
		assert.Empty(t, l.APIKey)
	}
}

func TestURLCheck(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	sn, key := session(t, srv)
	p := common(sn, key).Set("pageIndex", "0").Set("pageSize", "5")
	good := signedJSON(t, p)
	index := srv.URL + "/api/index"
	assert.EqualValues(t, 0, post(t, index, good)["code"])

	cases := map[string]string{
		"tampered value":    strings.Replace(good, `"pageSize":"5"`, `"pageSize":"6"`, 1),
		"reordered keys":    strings.Replace(good, `"pageIndex":"0","pageSize":"5"`, `"pageSize":"5","pageIndex":"0"`, 1),
		"number for string": strings.Replace(good, `"pageIndex":"0"`, `"pageIndex":0`, 1),
		"no url":            good[:strings.Index(good, `,"url"`)] + "}",
		"url as a list":     strings.Replace(good, `"url":"`, `"url":["`, 1)[:len(good)-1] + `"]}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, map[string]any{"code": 10001.0, "msg": "url验证失败"}, post(t, index, body))
		})
	}
	t.Run("url first, escaped slash and unicode, numbers as sent", func(t *testing.T) {
		// The hash is over PHP's re-encoding, so a body written with other (valid) escapes still passes,
		// and a JSON number is hashed as a number.
		plain := `{"user_sn":"` + sn + `","api_key":"` + key + `","source":"测试/x","pageIndex":0}`
		sum := md5.Sum([]byte(`{"user_sn":"` + sn + `","api_key":"` + key + `","source":"\u6d4b\u8bd5\/x","pageIndex":0}`))
		body := `{"url":"` + hex.EncodeToString(sum[:])[1:9] + `",` + plain[1:]
		assert.EqualValues(t, 0, post(t, index, body)["code"])
	})
	t.Run("body is not JSON", func(t *testing.T) {
		assert.Equal(t, map[string]any{"code": 20002.0, "msg": "数据格式错误"}, post(t, index, `user_sn=x`))
	})
	t.Run("check off: POST and GET without url", func(t *testing.T) {
		// 6.9 checks a secret of its own, and url as every call does.
		unsigned := func(srv *digelaotest.Server) (reply map[string]any, get1, get2 string) {
			sn, key := session(t, srv)
			reply = post(t, srv.URL+"/api/index", `{"user_sn":"`+sn+`","api_key":"`+key+`"}`)
			q := url.Values{"user_sn": {sn}, "api_key": {key}, "open_callback": {"0"}, "callback_url": {"http://x.example/p"}}
			_, body := get(t, srv.URL+"/api/setCallback?"+q.Encode())
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			q = url.Values{"api_key": {key}, "timestamp": {ts}, "secret": {md5Slice(key + ts)},
				"recordpath": {"/mnt/record"}, "recordfile": {"/mnt/record/none.wav"}}
			_, multi := get(t, srv.URL+"/api/multiServerCdrDownload?"+q.Encode())
			return reply, string(body), string(multi)
		}
		reply, body, multi := unsigned(newServer(t, digelaotest.WithURLCheck(false)))
		assert.EqualValues(t, 0, reply["code"], reply)
		assert.JSONEq(t, `{"code":0,"msg":"SUCCESS"}`, body)
		assert.Equal(t, "file not found\n", multi, "6.9 past its checks: there is no such recording")

		reply, body, multi = unsigned(newServer(t))
		assert.EqualValues(t, 10001, reply["code"], reply)
		assert.JSONEq(t, `{"code":10001,"msg":"url验证失败"}`, body)
		assert.JSONEq(t, `{"code":10001,"msg":"url验证失败"}`, multi)
	})
}

func TestFloatReadAsPHPString(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	sn, key := session(t, srv)
	// PHP's json_decode makes 1.0 a float, which (string) and json_encode write as "1".
	signed := `{"user_sn":"` + sn + `","api_key":"` + key + `","pageIndex":1,"pageSize":1e1}`
	sum := md5.Sum([]byte(strings.Replace(signed, "1e1", "10", 1)))
	body := strings.Replace(signed, `"pageIndex":1,`, `"pageIndex":1.0,`, 1)
	body = body[:len(body)-1] + `,"url":"` + hex.EncodeToString(sum[:])[1:9] + `"}`
	assert.EqualValues(t, 0, post(t, srv.URL+"/api/index", body)["code"])
	reqs := srv.Requests()
	last := reqs[len(reqs)-1]
	for k, want := range map[string]string{"pageIndex": "1", "pageSize": "10"} {
		got, _ := last.Get(k)
		assert.Equal(t, want, got, k)
	}
}

func TestGETQueryPHPStyle(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	// The SDK sends nested values as k[0]=…&k[1]=…; the fake must decode them as PHP does.
	p := digelao.NewParams().Set("open_callback", "1").Set("callback_url", "https://crm.example.com/push?t=a+b&x=1").
		Set("tags", []string{"a/b", "测试"}).Set("extra", digelao.NewParams().Set("k", "v"))
	require.NoError(t, c.Do(ctx, "GET", "/api/setCallback", p, nil))
	assert.Equal(t, digelao.CallbackRequest{Open: true, CallbackURL: "https://crm.example.com/push?t=a+b&x=1"}, srv.Callback())

	reqs := srv.Requests()
	last := reqs[len(reqs)-1]
	assert.Equal(t, "GET", last.Method)
	assert.Equal(t, 0, last.Code)
	tags, _ := last.Get("tags")
	assert.Equal(t, `["a\/b","\u6d4b\u8bd5"]`, tags)
	assert.Contains(t, last.Signed, `"tags":["a\/b","\u6d4b\u8bd5"],"extra":{"k":"v"}`)
	url, _ := last.Get("url")
	assert.Equal(t, last.URL, url)

	t.Run("keys out of order fail", func(t *testing.T) {
		sn, key := session(t, srv)
		q := signedQuery(t, common(sn, key).Set("open_callback", "0").Set("callback_url", "http://x.example/p"))
		swapped := strings.Replace(q, "open_callback=0&callback_url=http%3A%2F%2Fx.example%2Fp",
			"callback_url=http%3A%2F%2Fx.example%2Fp&open_callback=0", 1)
		require.NotEqual(t, q, swapped)
		_, body := get(t, srv.URL+"/api/setCallback?"+swapped)
		assert.JSONEq(t, `{"code":10001,"msg":"url验证失败"}`, string(body))
		_, body = get(t, srv.URL+"/api/setCallback?"+q)
		assert.JSONEq(t, `{"code":0,"msg":"SUCCESS"}`, string(body))
	})
}

func TestFormBody(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	sn, key := session(t, srv)
	p := common(sn, key).Set("dial_task_main_sn", "nope").Set("sn", []string{"a", "b"})
	sig, err := digelao.Sign(p)
	require.NoError(t, err)
	form := "user_sn=" + strings.ReplaceAll(sn, "|", "%7C") + "&api_key=" + key +
		"&dial_task_main_sn=nope&sn%5B%5D=a&sn[]=b&url=" + sig
	resp, err := rawClient.Post(srv.URL+"/api/cancelCall", "application/x-www-form-urlencoded", strings.NewReader(form))
	require.NoError(t, err)
	// The signature passed (sn[] became a list); the task does not exist.
	assert.Equal(t, 20002.0, decodeReply(t, resp)["code"])
}

func TestWrongMethod(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	err := c.Do(testCtx(t), "GET", "/api/index", nil, nil)
	assert.ErrorIs(t, err, digelao.ErrTransportMethod)
	resp, _ := get(t, srv.URL+"/api/nope")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestNewerLoginInvalidatesOlderKey(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	sn, old := session(t, srv)
	_, current := session(t, srv)
	require.NotEqual(t, old, current)
	index := srv.URL + "/api/index"
	assert.Equal(t, map[string]any{"code": 20005.0, "msg": "api_key验证失败"}, post(t, index, signedJSON(t, common(sn, old))))
	assert.EqualValues(t, 0, post(t, index, signedJSON(t, common(sn, current)))["code"])
	assert.EqualValues(t, 20005, post(t, index, signedJSON(t, digelao.NewParams().Set("user_sn", sn)))["code"], "no api_key")
	assert.EqualValues(t, 20005, post(t, index, signedJSON(t, common("SYSUSER|x", current)))["code"], "unknown user_sn")
}

func TestKeyExpiresWithClock(t *testing.T) {
	t.Parallel()
	clock := digelaotest.NewClock(time.Now())
	srv := newServer(t, digelaotest.WithClock(clock.Now))
	sn, key := session(t, srv)
	index := srv.URL + "/api/index"
	clock.Advance(2*time.Hour - time.Second)
	assert.EqualValues(t, 0, post(t, index, signedJSON(t, common(sn, key)))["code"])
	clock.Advance(time.Second)
	assert.Equal(t, map[string]any{"code": 20006.0, "msg": "api_key已过期"}, post(t, index, signedJSON(t, common(sn, key))))

	// The SDK believes its key is fresh (its own clock), gets 20006, logs in again and repeats the call.
	c := newClient(t, srv)
	ctx := testCtx(t)
	require.NoError(t, c.Do(ctx, "POST", "/api/index", nil, nil))
	clock.Advance(3 * time.Hour)
	require.NoError(t, c.Do(ctx, "POST", "/api/index", nil, nil))
	logins := srv.Logins()
	assert.Len(t, logins, 3)
	var codes []int
	for _, r := range srv.Requests() {
		if r.Path == "/api/index" {
			codes = append(codes, r.Code)
		}
	}
	assert.Equal(t, []int{0, 20006, 0, 20006, 0}, codes)
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv, digelao.WithRetries(2, time.Millisecond))
	ctx := testCtx(t)
	require.NoError(t, c.Do(ctx, "POST", "/api/index", nil, nil))

	t.Run("platform code, then the SDK logs in again", func(t *testing.T) {
		srv.Inject(digelaotest.Fault{Path: "/api/index", Times: 1, Code: digelao.CodeAPIKeyExpired})
		n := len(srv.Logins())
		require.NoError(t, c.Do(ctx, "POST", "/api/index", nil, nil))
		assert.Len(t, srv.Logins(), n+1)
	})
	t.Run("FailNext", func(t *testing.T) {
		srv.FailNext(1, digelao.CodePermission)
		err := c.Do(ctx, "POST", "/api/templatelist", nil, nil)
		assert.ErrorIs(t, err, digelao.ErrPermission)
		require.NoError(t, c.Do(ctx, "POST", "/api/templatelist", nil, nil))
	})
	t.Run("HTTP status on a POST is not retried", func(t *testing.T) {
		srv.FailNextHTTP(1, http.StatusBadGateway)
		err := c.Do(ctx, "POST", "/api/templatelist", nil, nil)
		var apiErr *digelao.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusBadGateway, apiErr.HTTPStatus)
		assert.True(t, apiErr.Retryable())
	})
	t.Run("HTTP status on a read is retried", func(t *testing.T) {
		srv.Inject(digelaotest.Fault{Path: "/api/exportModel", Times: 2, Status: http.StatusServiceUnavailable})
		var cols [][]string
		p := digelao.NewParams().Set("project_sn", digelaotest.TemplateSN).Set("type", "json")
		require.NoError(t, c.Do(digelao.AllowRetry(ctx), "GET", "/api/exportModel", p, &cols))
		assert.Equal(t, [][]string{{"姓名", "*电话", "地址", "公司名称", "备注"}}, cols)
		var statuses []int
		for _, r := range srv.Requests() {
			if r.Path == "/api/exportModel" {
				statuses = append(statuses, r.Status)
			}
		}
		assert.Equal(t, []int{503, 503, 200}, statuses)
	})
	t.Run("dropped connection", func(t *testing.T) {
		srv.Inject(digelaotest.Fault{Path: "/api/index", Times: 1, Drop: true})
		err := c.Do(ctx, "POST", "/api/index", nil, nil)
		require.Error(t, err)
		var apiErr *digelao.APIError
		assert.False(t, errors.As(err, &apiErr), "a transport error, not a reply: %v", err)
	})
	t.Run("delay beyond the caller's deadline", func(t *testing.T) {
		srv.Inject(digelaotest.Fault{Path: "/api/index", Times: 1, Delay: time.Minute})
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := c.Do(short, "POST", "/api/index", nil, nil)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("clear", func(t *testing.T) {
		srv.Inject(digelaotest.Fault{Path: "/api/index", Code: 20007})
		srv.ClearFaults()
		require.NoError(t, c.Do(ctx, "POST", "/api/index", nil, nil))
	})
}

func TestSetCallbackValidation(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	cfg := digelao.CallbackRequest{Open: true, CallbackURL: "https://a.example/call", TaskCallbackURL: "http://a.example/task"}
	require.NoError(t, c.SetCallback(ctx, &cfg))
	assert.Equal(t, cfg, srv.Callback())
	// Without task_callback_url the earlier one stays.
	require.NoError(t, c.SetCallback(ctx, &digelao.CallbackRequest{CallbackURL: "https://b.example/call"}))
	assert.Equal(t, digelao.CallbackRequest{CallbackURL: "https://b.example/call", TaskCallbackURL: "http://a.example/task"}, srv.Callback())

	for _, p := range []*digelao.Params{
		digelao.NewParams().Set("open_callback", "1").Set("callback_url", "ftp://x"),
		digelao.NewParams().Set("open_callback", "2").Set("callback_url", "http://x"),
		digelao.NewParams().Set("callback_url", "http://x"),
		digelao.NewParams().Set("open_callback", "1").Set("callback_url", "http://x").Set("task_callback_url", "x"),
	} {
		assert.ErrorIs(t, c.Do(ctx, "POST", "/api/setCallback", p, nil), digelao.ErrBadData)
	}
}

func TestWithAccount(t *testing.T) {
	t.Parallel()
	other := digelaotest.Account{Username: "second", Password: "pw2"}
	srv := newServer(t, digelaotest.WithAccount(other))
	c, err := digelao.New(srv.URL, digelao.WithPassword("second", "pw2"))
	require.NoError(t, err)
	sess, err := c.Login(testCtx(t))
	require.NoError(t, err)
	assert.NotEqual(t, digelaotest.UserSN, sess.UserSN)
	assert.Equal(t, "second", sess.UserName)
	// Each account has its own key: logging the default account in leaves this one valid.
	newCaller(t, srv)
	require.NoError(t, c.Do(testCtx(t), "POST", "/api/index", nil, nil))
	assert.Len(t, srv.Logins(), 2)
}
