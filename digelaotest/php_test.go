package digelaotest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/phpform"
	"github.com/digelao-go/digelao/internal/testkit"

	"github.com/digelao-go/digelao"
)

// reencode is what the fake hashes for a JSON body ("J") or a query ("Q"): PHP's json_encode of
// what PHP decodes, or "FALSE" where PHP's decoding or encoding fails. For "S" it encodes how the
// fake reads each top-level scalar of a JSON body as text, as PHP's (string) cast does.
func reencode(in string) string {
	var v any
	switch in[0] {
	case 'J', 'S':
		d, err := decodeJSON([]byte(in[1:]))
		a, isArr := d.(*array)
		if err != nil || !isArr {
			return "FALSE"
		}
		v = a
		if in[0] == 'S' {
			text := &array{}
			for i, k := range a.keys {
				if _, nested := a.vals[i].(*array); nested {
					text.set(k, nil)
				} else {
					text.set(k, a.str(k))
				}
			}
			v = text
		}
	default:
		f, _ := phpform.ParseStr(in[1:])
		v = fromForm(f)
	}
	b, err := encodePHP(v)
	if err != nil {
		return "FALSE"
	}
	return string(b)
}

// phpCases are inputs whose PHP decoding and re-encoding are easy to get wrong.
var phpCases = []string{
	`J{"user_sn":"SYSUSER|cb31","api_key":"MUOm4NH1","callback_url":"http:\/\/x\/api\/crm"}`,
	`J{"a":1.0,"b":1e25,"c":0.1,"d":1e15,"e":123456789012345678901,"f":-0,"g":-0.0,"h":1.5e-7}`,
	`J{"a":0.0001,"b":1e16,"c":1e17,"d":12345678901234567,"e":1E2,"f":100000000000000000000.0,"g":5e-324}`,
	`J{"a":1.7976931348623157e308,"b":0.30000000000000004,"c":-1.5,"d":0.5,"e":-0.05,"f":1e-5,"g":123.456}`,
	`J{"x":9223372036854775807,"y":9223372036854775808,"z":-9223372036854775808,"w":-9223372036854775809}`,
	`J{"0":"a","1":"b"}`, `J{"1":"a","0":"b"}`, `J{}`, `J[]`, `J{"a":{}}`, `J{"a":[]}`, `J[1,"2",[3]]`,
	`J{"a":1,"b":2,"a":3}`, `J{"01":"x","1":"y"}`, `J{"-0":"x","-1":"y"}`, `J{"":"empty key"}`,
	`J{"a":"\ud83d\ude00 😀 测试 \u00e9"}`, `J{"a":"\ud800"}`, `J{"a":"\udc00x"}`, `J{"a":"\ud800\u0041"}`,
	`J{"a":"\u0000\u001f\"\\\/<>&'"}`, `J{"a":true,"b":false,"c":null}`, `J{"a":"x"} `, ` {"a":1}`,
	`J{"a":1}{"b":2}`, `J{"a":1,}`, `J"s"`, `J1`, `J`, `J{"a":"\xff"}`,
	`J{"client_info_json":{"data":[{"姓名":"张三","电话":"13800138000"},{"姓名":"李四","电话":13900139000}]}}`,
	`J{"0":"a","2":"b"}`, `J{"a":{"0":"x","1":"y"},"b":{"1":"x"}}`,
	`J` + strings.Repeat("[", 511) + strings.Repeat("]", 511), `J` + strings.Repeat("[", 512) + strings.Repeat("]", 512),
	`Qa[]=1&a[]=2&b[x][y]=3&c.d=4&e[=5&f[g=6&h]=7& i=8&j[k]l=9&m=1&m[]=2&n[]=1&n=2&a[5]=x&a[]=y&=z&o&p[]&q[ r ]=1&s[a.b]=2`,
	`Qa[-1]=x&a[]=y&b[01]=1&b[]=2&c[2]=1&c[1]=2&c[]=3`, `Qa[-5]=x&a[]=y&b[%2B1]=x&b[]=y&c[ ]=1&c[%09]=2`, `Qa[b][c=1&x[][y=2&z[b]c=3`, `Q&&a=1&&b=2`,
	`Quser_sn=SYSUSER%7Cb339&api_key=ACjhLRSp&recordpath=/mnt/record&recordfile=/mnt/a+b%20c%2Fd.wav`,
	`Qa=%zz&b=%4&c=%41%42&d=+&e=%E6%B5%8B%E8%AF%95&f=%FF`, `Qa=1&b=2&a=3`, `Qk%5B0%5D=v&k%5B1%5D=w`,
	`Q` + strings.Repeat("a[", 70) + strings.Repeat("]", 70) + "=deep&b=1",
	`Q` + strings.Repeat("v=1&", 1005),
	// PHP's (string) of json_decode's numbers: 14 digits, E notation from 1e15, INF beyond range.
	`S[1.0,0.1,1e20,1e14,1e15,1e13,123456789012345678,0.30000000000000004,-0.0,-0,1e400,-1e400,1e-5,0.0001]`,
	`S[0.00012345678901234567,1.5,-2.5e-5,1e-400,123456.789e3,1E2,12345678901234.5,1234567890123.25,5e-324]`,
	`S[9223372036854775807,9223372036854775808,-9223372036854775809,1.7976931348623157e308,99999999999999.5]`,
	`S[100000000000005.0,120000000000005.0,120000000000015.0,-120000000000005.0,999999999999995.0,100000000000000.5]`,
	`S{"a":"1.0","b":true,"c":false,"d":null,"e":[1.0],"f":{"g":1},"h":0.1e1,"i":-1.0E-10,"j":3.0e15}`,
}

// TestReencodeMatchesPHP feeds each case to PHP itself and to the fake's decoder and encoder.
func TestReencodeMatchesPHP(t *testing.T) {
	php := testkit.PHP(t)
	var in strings.Builder
	for _, c := range phpCases {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		in.Write(b)
		in.WriteByte('\n')
	}
	cmd := exec.Command(php, "-n", "-d", "error_reporting=0", "testdata/reencode.php")
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	require.NoError(t, err)
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	n := 0
	for ; sc.Scan(); n++ {
		var want string
		require.NoError(t, json.Unmarshal(sc.Bytes(), &want))
		assert.Equal(t, want, reencode(phpCases[n]), "case %d: %.80q", n, phpCases[n])
	}
	assert.Equal(t, len(phpCases), n, "PHP answered every case")
}

func TestAppendFloat(t *testing.T) {
	for f, want := range map[float64]string{
		1: "1", 1e25: "1.0e+25", 0.1: "0.1", 1e15: "1000000000000000", 1e17: "1.0e+17", 1.5e-7: "1.5e-7",
		0.0001: "0.0001", 1e-5: "1.0e-5", -0.05: "-0.05", 123.456: "123.456", 5e-324: "5.0e-324",
	} {
		b, err := appendFloat(nil, f)
		require.NoError(t, err)
		assert.Equal(t, want, string(b), "%v", f)
	}
}

func TestArrayKeepsPHPOrder(t *testing.T) {
	a := &array{}
	for i := range 40 { // past indexAt, so the map index is used
		a.push(i)
	}
	a.set("5", "five")
	a.del("0")
	a.push("next")
	b, err := encodePHP(a)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), `{"1":1,"2":2,"3":3,"4":4,"5":"five",`))
	assert.True(t, strings.HasSuffix(string(b), `"39":39,"40":"next"}`))
}

// rawRequest is a request as a client of the platform may send it, and the code PHP answers.
type rawRequest struct {
	method, path, contentType, body string // path with its query; no Content-Type when empty
	code                            int    // 0, 10001 (url refused) or 20002 (not JSON)
}

// send sends rr to base, without keeping the connection, and returns the body of the reply.
func (rr rawRequest) send(t *testing.T, base string) []byte {
	t.Helper()
	req, err := http.NewRequest(rr.method, base+rr.path, strings.NewReader(rr.body))
	require.NoError(t, err)
	if rr.contentType != "" {
		req.Header.Set("Content-Type", rr.contentType)
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return b
}

// TestRequestsMatchPHP sends the same requests to the fake and to PHP judging them as the platform
// does, and checks that both read the same parameters and files, sign the same JSON and agree on
// the url check: the Content-Type decides whether a body is read at all, numbers read as PHP's
// (string) casts them, max_input_vars cuts forms and multipart bodies, and where json_encode fails
// the url that passes is md5("")'s.
func TestRequestsMatchPHP(t *testing.T) {
	judge := testkit.ServePHP(t, "../testdata/php/judge.php")
	srv := NewServer()
	t.Cleanup(srv.Close)
	c, err := srv.Client()
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	_, err = c.Login(context.Background())
	require.NoError(t, err)
	sn, key := UserSN, srv.Logins()[0].APIKey
	common := func() *digelao.Params { return digelao.NewParams().Set("user_sn", sn).Set("api_key", key) }
	sign := func(p *digelao.Params) string {
		u, err := digelao.Sign(p)
		require.NoError(t, err)
		return u
	}
	signed := func(p *digelao.Params) string {
		b, err := p.MarshalJSON()
		require.NoError(t, err)
		return strings.TrimSuffix(string(b), "}") + `,"url":"` + sign(p) + `"}`
	}
	const md5Empty = "41d8cd98" // characters 2-9 of md5(""), d41d8cd98f00b204e9800998ecf8427e
	form := func(kv ...string) string {
		var q []string
		for i := 0; i+1 < len(kv); i += 2 {
			q = append(q, url.QueryEscape(kv[i])+"="+url.QueryEscape(kv[i+1]))
		}
		return strings.Join(q, "&")
	}
	good := signed(common().Set("pageIndex", "0").Set("pageSize", "5"))
	small := form("user_sn", sn, "api_key", key, "url", sign(common()))
	// url, user_sn, api_key and 1,200 more fields, of which PHP keeps the first `kept`: the url
	// signs those.
	many := func(kept int) (string, []string) {
		p, kv := common(), []string{"user_sn", sn, "api_key", key}
		for i := range 1200 {
			if i < kept-3 {
				p.Set(fmt.Sprintf("v%d", i), strconv.Itoa(i))
			}
			kv = append(kv, fmt.Sprintf("v%d", i), strconv.Itoa(i))
		}
		return sign(p), kv
	}
	formURL, formKV := many(1001)
	gapURL, gapKV := many(1001 - 2) // the two empty pieces count
	getURL, getKV := many(1000)
	// A multipart body of fields kv, then a file for each of files.
	upload := func(kv []string, files ...string) rawRequest {
		var b strings.Builder
		mw := multipart.NewWriter(&b)
		for i := 0; i+1 < len(kv); i += 2 {
			require.NoError(t, mw.WriteField(kv[i], kv[i+1]))
		}
		for _, f := range files {
			fw, err := mw.CreateFormFile(f, f+".xlsx")
			require.NoError(t, err)
			_, err = io.WriteString(fw, "PK")
			require.NoError(t, err)
		}
		require.NoError(t, mw.Close())
		return rawRequest{"POST", "/api/index", mw.FormDataContentType(), b.String(), 0}
	}
	mpURL, mpKV := many(1000)
	var files []string
	for i := range 22 {
		files = append(files, fmt.Sprintf("f%d", i))
	}
	head := `{"user_sn":"` + sn + `","api_key":"` + key + `"`
	inf := head + `,"n":1e400}`
	// 6.9 checks url as every call does, then a secret of its own: with a key no login gave, the
	// fake answers 20005 (JSON) where the url passes.
	const other = "K0000000"
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	multiKV := []string{"user_sn", sn, "api_key", other, "timestamp", ts, "secret", md5Slice(other + ts),
		"recordpath", "/mnt/record", "recordfile", "/mnt/record/none.wav"}
	multi := digelao.NewParams()
	for i := 0; i < len(multiKV); i += 2 {
		multi.Set(multiKV[i], multiKV[i+1])
	}
	multiQuery := "/api/multiServerCdrDownload?" + form(multiKV...)

	cases := map[string]rawRequest{
		"JSON":                      {"POST", "/api/index", "application/json", good, 0},
		"JSON, charset and a ';'":   {"POST", "/api/index", "application/json;charset=utf-8;", good, 0},
		"JSON as text/plain":        {"POST", "/api/index", "text/plain", good, 10001},
		"JSON as text/json":         {"POST", "/api/index", "text/json", good, 0},
		"JSON as JSON:API":          {"POST", "/api/index", "application/vnd.api+json; charset=utf-8", good, 0},
		"JSON as Text/JSON":         {"POST", "/api/index", "Text/JSON", good, 0},
		"JSON without Content-Type": {"POST", "/api/index", "", good, 10001},
		"JSON as a form":            {"POST", "/api/index", "application/x-www-form-urlencoded", good, 10001},
		"form, type in capitals":    {"POST", "/api/index", "Application/X-WWW-Form-Urlencoded; charset=UTF-8", small, 0},
		"form of an unknown type":   {"POST", "/api/index", "application/x-www-form-urlencodedx", small, 10001},
		"floats for int parameters": {"POST", "/api/index", "application/json", head + `,"pageIndex":1.0,"pageSize":1e1,` +
			`"big":1e15,"url":"` + md5Slice(head+`,"pageIndex":1,"pageSize":10,"big":1000000000000000}`) + `"}`, 0},
		"1e400, url of md5(\"\")":     {"POST", "/api/index", "application/json", head + `,"n":1e400,"url":"` + md5Empty + `"}`, 0},
		"1e400, url of the JSON":      {"POST", "/api/index", "application/json", inf[:len(inf)-1] + `,"url":"` + md5Slice(inf) + `"}`, 10001},
		"bad UTF-8, url of md5(\"\")": {"POST", "/api/index", "application/x-www-form-urlencoded", small[:strings.LastIndex(small, "&")] + "&remark=%FF&url=" + md5Empty, 0},
		"1,200 form fields":           {"POST", "/api/index", "application/x-www-form-urlencoded", "url=" + formURL + "&" + form(formKV...), 0},
		"1,200 form fields, gaps":     {"POST", "/api/index", "application/x-www-form-urlencoded", "url=" + gapURL + "&&&" + form(gapKV...) + "&", 0},
		"1,200 query fields, gaps":    {"GET", "/api/customerList?url=" + getURL + "&&&" + form(getKV...), "", "", 0},
		// The file is part 1,204, past max_multipart_body_parts.
		"1,200 multipart fields": upload(append([]string{"url", mpURL}, mpKV...), "late"),
		"22 files":               upload([]string{"user_sn", sn, "api_key", key, "url", sign(common())}, files...),
		// Parts PHP reads its own way: any disposition's name, an unquoted name with brackets, an
		// empty filename (a file), bytes kept quoted-printable.
		"multipart as PHP reads it": {"POST", "/api/index", "multipart/form-data; boundary=XX",
			"--XX\r\nContent-Disposition: form-data; name=user_sn\r\n\r\n" + sn +
				"\r\n--XX\r\nContent-Disposition: attachment; name=\"remark\"\r\n\r\nr1" +
				"\r\n--XX\r\nContent-Disposition: form-data; name=x.y[a][]\r\n\r\n1" +
				"\r\n--XX\r\nContent-Disposition: form-data; name='note'; filename=\"\"\r\n\r\nn" +
				"\r\n--XX\r\nContent-Disposition: form-data; name=\"q\\\"p\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db=\r\nc" +
				"\r\n--XX\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\n" +
				md5Slice(`{"user_sn":"`+sn+`","remark":"r1","x_y":{"a":["1"]},"q\"p":"a=3Db=\r\nc"}`) + "\r\n--XX--\r\n", 0},
		"6.9 with url":         {"GET", multiQuery + "&url=" + sign(multi), "", "", 0},
		"6.9 without url":      {"GET", multiQuery, "", "", 10001},
		"6.9 with a wrong url": {"GET", multiQuery + "&url=" + sign(common()), "", "", 10001},
	}
	for name, rr := range cases {
		t.Run(name, func(t *testing.T) {
			var php struct {
				Code int
				Data struct {
					JSON  any                        `json:"json"` // a string, or false
					Text  map[string]*string         `json:"text"`
					Files map[string]json.RawMessage `json:"files"`
				}
			}
			require.NoError(t, json.Unmarshal(rr.send(t, judge), &php))
			rr.send(t, srv.URL)
			reqs := srv.Requests()
			got := reqs[len(reqs)-1]

			require.Equal(t, rr.code, php.Code, "PHP's answer")
			if php.Code == digelao.CodeBadData {
				assert.Equal(t, digelao.CodeBadData, got.Code)
				return
			}
			assert.Equal(t, php.Code == digelao.CodeSignature, got.Code == digelao.CodeSignature, "url refused")
			want, _ := php.Data.JSON.(string)
			if i := commonPrefix(want, got.Signed); i < max(len(want), len(got.Signed)) {
				t.Errorf("the JSON signed differs at byte %d: PHP %.60q, fake %.60q", i, want[i:], got.Signed[i:])
			}
			for k, v := range php.Data.Text {
				if v != nil {
					text, _ := got.Get(k) // PHP's reply has U+FFFD for invalid UTF-8
					assert.Equal(t, *v, strings.ToValidUTF8(text, "\uFFFD"), "the text of %s", k)
				}
			}
			var files []string
			for f := range php.Data.Files {
				files = append(files, f)
			}
			assert.ElementsMatch(t, files, got.Files, "the files")
		})
	}
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
