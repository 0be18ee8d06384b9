package digelao

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/phpform"
	"github.com/digelao-go/digelao/internal/testkit"
)

// form is a multipart request as a responder read it.
type form struct {
	method, path  string
	contentLength int64
	fields        [][2]string // non-file fields in order
	fileField     string
	fileName      string
	fileType      string
	fileSize      int64
	file          []byte // kept only when keep is set
	afterFile     []string
}

// multipartResponder reads each request as a multipart form into *got (streaming the file into a
// counter unless keep) and replies with reply.
func multipartResponder(t *testing.T, got *form, keep bool, status int, reply string) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		*got = form{method: r.Method, path: r.URL.Path, contentLength: r.ContentLength}
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" {
			return nil, errors.New("not multipart: " + r.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
			if part.FileName() != "" {
				got.fileField, got.fileName, got.fileType = part.FormName(), part.FileName(), part.Header.Get("Content-Type")
				var buf bytes.Buffer
				dst := io.Writer(io.Discard)
				if keep {
					dst = &buf
				}
				if got.fileSize, err = io.Copy(dst, part); err != nil {
					return nil, err
				}
				got.file = buf.Bytes()
				continue
			}
			b, err := io.ReadAll(part)
			if err != nil {
				return nil, err
			}
			if got.fileField != "" {
				got.afterFile = append(got.afterFile, part.FormName())
			}
			got.fields = append(got.fields, [2]string{part.FormName(), string(b)})
		}
		resp := httpmock.NewStringResponse(status, reply)
		resp.Header.Set("Content-Type", "application/json")
		return resp, nil
	}
}

func TestUploadSendsOrderedSignedFieldsThenTheFile(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/importsExcelapi", multipartResponder(t, &got, true, 200, `{"code":0,"msg":"导入成功","success":2,"fail":0}`))

	content := "PK\x03\x04 fake workbook"
	res, err := c.Blacklist.Import(context.Background(), &BlacklistImportRequest{File: File{Name: "名单.xlsx", Content: strings.NewReader(content)}, Days: 15})
	require.NoError(t, err)
	assert.Equal(t, &AddResult{Added: 2}, res)

	assert.Equal(t, [][2]string{{"user_sn", testUserSN}, {"api_key", testAPIKey}, {"term_value", "15"},
		{"url", urlOf(commonJSON + `,"term_value":"15"}`)}},
		got.fields, "fields in order, url last, signed over the fields without the file")
	assert.Empty(t, got.afterFile, "the file is the last part")
	assert.Equal(t, "upload", got.fileField)
	assert.Equal(t, "名单.xlsx", got.fileName)
	assert.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", got.fileType)
	assert.Equal(t, content, string(got.file))
	assert.Positive(t, got.contentLength, "a seekable file's length is sent ahead")
}

// TestUploadIsStreamed sends 50 MiB from a reader that is not a seeker: the request must read it
// as it goes, never holding it whole. Not parallel, so the allocation count is this test's own.
func TestUploadIsStreamed(t *testing.T) {
	const size = 50 << 20
	c, mt := newMockClient(t)
	src := testkit.NewZeroReader(size)
	var ahead, got int64
	var length int64
	mt.RegisterResponder("POST", testBase+"/api/addBatch", func(r *http.Request) (*http.Response, error) {
		length = r.ContentLength
		n, _ := io.CopyN(io.Discard, r.Body, 1<<20)
		ahead = src.Done.Load() - n
		m, _ := io.Copy(io.Discard, r.Body)
		got = n + m
		return httpmock.NewStringResponse(200, `{"code":0,"msg":"导入成功","data":{"dial_task_main_id":7}}`), nil
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := c.Tasks.CreateBatch(context.Background(), &BatchRequest{Name: "b1", ProjectSN: "projects|1",
		SeatSN: "SYSUSER|2", SeatName: "seat", File: File{Name: "big.xlsx", Content: src}})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	t.Logf("50 MiB upload: %d KiB allocated, %d KiB read ahead of the server", (after.TotalAlloc-before.TotalAlloc)>>10, ahead>>10)
	assert.Equal(t, int64(7), res.ID)
	assert.Greater(t, got, int64(size), "the whole file and the fields arrived")
	assert.Equal(t, int64(size), src.Done.Load())
	assert.Equal(t, int64(-1), length, "unknown length: sent chunked")
	assert.Less(t, ahead, int64(1<<20), "the reader is read only as the request is sent")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "50 MiB went through without being buffered")
}

func TestUploadRetriesOnlyRewindableContentUnderAllowRetry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		content  func() io.Reader
		attempts int
	}{
		{"seeker under AllowRetry", AllowRetry(context.Background()), func() io.Reader { return strings.NewReader("rows") }, 2},
		{"seeker without AllowRetry", context.Background(), func() io.Reader { return strings.NewReader("rows") }, 1},
		{"plain reader under AllowRetry", AllowRetry(context.Background()), func() io.Reader { return io.MultiReader(strings.NewReader("rows")) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := newMockClient(t, WithRetries(3, 0))
			var files []string
			var got form
			ok := multipartResponder(t, &got, true, 200, `{"total":1,"success_count":1,"fail":"0","repeat":"0","msg":"导入成功","rst":"200"}`)
			mt.RegisterResponder("POST", testBase+"/api/importPublicCustomerExcle", func(r *http.Request) (*http.Response, error) {
				resp, err := ok(r)
				files = append(files, string(got.file))
				if len(files) == 1 {
					return httpmock.NewStringResponse(503, "busy"), err
				}
				return resp, err
			})
			_, err := c.Customers.ImportPublic(tc.ctx, &ImportPublicRequest{File: File{Name: "c.xls", Content: tc.content()}, Origin: OriginManual})
			assert.Len(t, files, tc.attempts)
			for _, f := range files {
				assert.Equal(t, "rows", f, "every attempt sends the whole file")
			}
			if tc.attempts == 1 {
				var apiErr *APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, 503, apiErr.HTTPStatus)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

// failingReader fails after some bytes.
type failingReader struct{ err error }

func (f failingReader) Read(p []byte) (int, error) { return 0, f.err }

func TestUploadReaderErrorIsReturnedAndNotRetried(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/importsExcelapi", multipartResponder(t, &got, false, 200, `{"code":0}`))
	boom := errors.New("disk read failed")
	_, err := c.Blacklist.Import(AllowRetry(context.Background()), &BlacklistImportRequest{
		File: File{Name: "a.xlsx", Content: io.MultiReader(strings.NewReader("abc"), failingReader{boom})}})
	require.ErrorIs(t, err, boom)
	assert.LessOrEqual(t, mt.GetTotalCallCount(), 1)
}

func TestUploadAfterReloginRewindsTheFile(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	c, err := New(testBase, WithPassword("u", "p"), WithTransport(mt))
	require.NoError(t, err)
	logins := 0
	mt.RegisterResponder("POST", testBase+"/api/login", func(*http.Request) (*http.Response, error) {
		logins++
		return httpmock.NewStringResponse(200, `{"code":0,"msg":"login success","data":{"user_sn":"SYSUSER|1","api_key":"k`+
			string(rune('0'+logins))+`","api_key_expire":4102444800}}`), nil
	})
	var got form
	var files []string
	var keys []string
	ok := multipartResponder(t, &got, true, 200, `{"code":0,"success":1,"fail":0}`)
	mt.RegisterResponder("POST", testBase+"/api/importsExcelapi", func(r *http.Request) (*http.Response, error) {
		resp, err := ok(r)
		files = append(files, string(got.file))
		keys = append(keys, got.fields[1][1])
		if len(files) == 1 {
			return httpmock.NewStringResponse(200, `{"code":20006,"msg":"api_key已过期"}`), err
		}
		return resp, err
	})
	res, err := c.Blacklist.Import(context.Background(), &BlacklistImportRequest{File: File{Name: "a.xlsx", Content: bytes.NewReader([]byte("rows"))}, Days: 0})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Added)
	assert.Equal(t, []string{"rows", "rows"}, files)
	assert.Equal(t, []string{"k1", "k2"}, keys, "resent with the new key")
}

func TestUploadRefusesBadFilesBeforeSending(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"no content": func() error {
			_, err := c.Blacklist.Import(ctx, &BlacklistImportRequest{File: File{Name: "a.xlsx"}, Days: 0})
			return err
		},
		"csv": func() error {
			_, err := c.Blacklist.Import(ctx, &BlacklistImportRequest{File: File{Name: "a.csv", Content: strings.NewReader("x")}, Days: 0})
			return err
		},
		"xls for 5.7.1": func() error {
			_, err := c.Tasks.CreateFromExcel(ctx, &ExcelTaskRequest{Name: "t", ProjectSN: "p", SeatSN: "s",
				File: File{Name: "a.xls", Content: strings.NewReader("x")}})
			return err
		},
		"no extension": func() error {
			_, err := c.Customers.ImportPublic(ctx, &ImportPublicRequest{File: File{Name: "xlsx", Content: strings.NewReader("x")}, Origin: OriginManual})
			return err
		},
	} {
		var ve *ValidationError
		require.ErrorAs(t, call(), &ve, name)
		assert.Equal(t, "upload", ve.Field, name)
	}
	assert.Zero(t, mt.GetTotalCallCount())
}

func TestUploadThroughDo(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	var got form
	mt.RegisterResponder("POST", testBase+"/api/custom", multipartResponder(t, &got, true, 200, `{"code":0,"data":{"n":1}}`))
	var out struct{ N int }
	p := NewParams().Set("a", 1).Set("doc", &File{Name: "x.bin", Content: strings.NewReader("bytes")}).Set("b", true)
	require.NoError(t, c.Do(context.Background(), "POST", "/api/custom", p, &out))
	assert.Equal(t, 1, out.N)
	assert.Equal(t, "doc", got.fileField)
	assert.Equal(t, "application/octet-stream", got.fileType)
	assert.Equal(t, [][2]string{{"user_sn", testUserSN}, {"api_key", testAPIKey}, {"a", "1"}, {"b", "1"},
		{"url", urlOf(commonJSON + `,"a":"1","b":"1"}`)}}, got.fields)

	// Nested values and two files cannot be sent as a form.
	var ve *ValidationError
	err := c.Do(context.Background(), "POST", "/api/custom", NewParams().Set("f", &File{Name: "x", Content: strings.NewReader("")}).
		Set("n", NewParams().Set("k", "v")), nil)
	require.ErrorAs(t, err, &ve)
	err = c.Do(context.Background(), "POST", "/api/custom", NewParams().Set("f", &File{Name: "x", Content: strings.NewReader("")}).
		Set("g", &File{Name: "y", Content: strings.NewReader("")}), nil)
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestUploadCancelledMidway(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	mt.RegisterResponder("POST", testBase+"/api/importsExcelapi", func(r *http.Request) (*http.Response, error) {
		_, _ = io.CopyN(io.Discard, r.Body, 1024)
		cancel()
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	src := testkit.NewZeroReader(1 << 30)
	_, err := c.Blacklist.Import(ctx, &BlacklistImportRequest{File: File{Name: "a.xlsx", Content: src}, Days: 0})
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, src.Done.Load(), int64(1<<30), "reading stopped with the request")
	// goleak (TestMain) checks that the goroutine writing the body has ended.
}

// The SDK's own upload body (multipartForm.write), streamed whole, reads back through
// phpform.Parts and push.go's multipartFields with every field and the file.
func TestUploadBodyReadsBackAsPHPReadsIt(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 1, 4095, 4096, 70000} {
		content := bytes.Repeat([]byte("\r\n--x"), size/5+1)[:size]
		p := NewParams().Set("user_sn", "SN").Set("api_key", "K").Set("a", "1").
			Set("upload", &File{Name: "x.xlsx", Content: io.MultiReader(bytes.NewReader(content))})
		up, err := newUpload(p)
		require.NoError(t, err)
		form, err := newMultipartForm(p, up)
		require.NoError(t, err)
		var buf bytes.Buffer
		boundary := strings.Repeat("z", 70)
		require.NoError(t, form.write(&buf, boundary, up.file.Content))
		var names []string
		for part, err := range phpform.Parts(bytes.NewReader(buf.Bytes()), boundary) {
			require.NoError(t, err)
			names = append(names, part.Name)
			if part.File {
				assert.Equal(t, content, part.Data)
			}
		}
		assert.Equal(t, []string{"user_sn", "api_key", "a", "url", "upload"}, names)
		fields, more, err := multipartFields(buf.Bytes(), boundary, 10)
		require.NoError(t, err)
		assert.False(t, more)
		assert.Len(t, fields, 4)
		// cut just before the close delimiter's "--": refused
		cut := buf.Bytes()[:buf.Len()-len("--\r\n")]
		_, _, err = multipartFields(cut, boundary, 10)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	}
}
