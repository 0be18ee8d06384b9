package digelaotest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/digelaotest"
)

// A test of code that imports numbers and receives the call pushes: manual time makes it
// instant and reproducible.
func ExampleNewServer() {
	pushes := make(chan string, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		pushes <- string(body)
		_, _ = io.WriteString(w, "SUCCESS") // anything else is retried, three tries in all
	}))
	defer receiver.Close()

	srv := digelaotest.NewServer(
		digelaotest.WithManualTime(),
		digelaotest.WithOutcomes(func(call digelaotest.Call) digelaotest.Outcome {
			return digelaotest.Outcome{Connected: true, Talk: 42 * time.Second, Grade: "A"}
		}),
	)
	defer srv.Close()

	ctx := context.Background()
	c, err := digelao.New(srv.URL, digelao.WithPassword(digelaotest.Username, digelaotest.Password))
	if err != nil {
		panic(err)
	}
	defer c.CloseIdleConnections()
	if err := c.SetCallback(ctx, &digelao.CallbackRequest{Open: true, CallbackURL: receiver.URL}); err != nil {
		panic(err)
	}
	rows := digelao.NewParams().Set("data", []*digelao.Params{
		digelao.NewParams().Set("姓名", "张三").Set("电话", "13800138000"),
		digelao.NewParams().Set("姓名", "李四").Set("电话", "13900139000"),
	})
	p := digelao.NewParams().Set("source", "回访").Set("project_sn", digelaotest.TemplateSN).
		Set("ai_user_sn", digelaotest.SeatSN).Set("is_zidong", "on").Set("client_info_json", rows)
	if err := c.Do(ctx, "POST", "/api/addJsonOfAsync", p, nil); err != nil {
		panic(err)
	}

	if err := srv.Flush(ctx); err != nil { // import, dial, push: all now
		panic(err)
	}
	for _, r := range srv.CallRecords() {
		fmt.Println(r.Phone, r.Grade, r.TalkSeconds, r.Pushed)
	}
	fmt.Println(len(pushes), "pushes")
	// Output:
	// 13800138000 A 42 true
	// 13900139000 A 42 true
	// 2 pushes
}
