package digelao

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/testkit"
)

// TestPHPAcceptsSignedRequests sends requests signed by the SDK to a server that checks them with
// PHP's own $_GET, json_decode, json_encode and md5 — the platform's real judge.
func TestPHPAcceptsSignedRequests(t *testing.T) {
	t.Parallel()
	base := testkit.ServePHP(t, "testdata/php/judge.php")
	// php -S may close a kept-alive connection as the next request goes out on it, which a POST is
	// not retried for: one connection per request.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	c, err := New(base, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(hc))
	require.NoError(t, err)
	ctx := context.Background()

	tricky := "a+b c&d=e#f%g|h/i\\j\"k'<l>😀测试\t\n\x01\x7f"
	cases := map[string]*Params{
		"every vector value": NewParams().Set("remark", tricky),
		"setCallback": NewParams().Set("open_callback", true).
			Set("callback_url", "https://crm.example.com/hooks/call?token=a1b2&x=1"),
		"numbers and bools": NewParams().Set("pageIndex", 0).Set("pageSize", uint16(500)).Set("flag", false),
		"lists and objects": NewParams().Set("ids", []string{"88", "12"}).
			Set("client_info_json", NewParams().Set("data", []*Params{
				NewParams().Set("姓名", "张三").Set("电话", "13800138000").Set("备注", "VIP/老客户"),
				NewParams().Set("姓名", "李四").Set("电话", "13900139000").Set("备注", ""),
			})),
		"chinese key": NewParams().Set("名字", "王五"),
	}
	for _, method := range []string{"POST", "GET"} {
		for name, p := range cases {
			t.Run(method+" "+name, func(t *testing.T) {
				var out struct {
					JSON   string          `json:"json"`
					Params json.RawMessage `json:"params"`
				}
				require.NoError(t, c.Do(ctx, method, "/api/judge", p, &out))
				// PHP saw exactly the values the SDK signed.
				full := NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey)
				for i, k := range p.keys {
					full.Set(k, p.vals[i])
				}
				want, err := full.MarshalJSON()
				require.NoError(t, err)
				assert.Equal(t, string(want), out.JSON)
			})
		}
	}

	t.Run("POST multipart upload", func(t *testing.T) {
		content := bytes.Repeat([]byte("PK\x03\x04 xlsx bytes 测试 "), 4096) // about 120 KB
		p := NewParams().Set("project_sn", "projects|4a92").Set("source", "回访/测试").
			Set("upload", &File{Name: "名单.xlsx", Content: bytes.NewReader(content)})
		var out struct {
			JSON  string `json:"json"`
			Files map[string]struct {
				Name  string `json:"name"`
				Size  int    `json:"size"`
				Error int    `json:"error"`
				MD5   string `json:"md5"`
			} `json:"files"`
		}
		require.NoError(t, c.Do(ctx, "POST", "/api/judge", p, &out))
		// PHP signed $_POST — the text fields in order — and received the whole file.
		want, err := NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey).
			Set("project_sn", "projects|4a92").Set("source", "回访/测试").MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, string(want), out.JSON)
		f := out.Files["upload"]
		assert.Equal(t, 0, f.Error)
		assert.Equal(t, "名单.xlsx", f.Name)
		assert.Equal(t, len(content), f.Size)
		assert.Equal(t, fmt.Sprintf("%x", md5.Sum(content)), f.MD5)
	})

	t.Run("the judge refuses a tampered body", func(t *testing.T) {
		body, err := signedBody(NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey).Set("a", "1"))
		require.NoError(t, err)
		tampered := strings.Replace(string(body), `"a":"1"`, `"a":"2"`, 1)
		resp, err := http.Post(base+"/api/judge", "application/json", strings.NewReader(tampered))
		require.NoError(t, err)
		defer resp.Body.Close()
		var env struct{ Code int }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
		assert.Equal(t, CodeSignature, env.Code)
	})
}
