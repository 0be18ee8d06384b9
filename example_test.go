package digelao_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/digelao-go/digelao"
)

func ExampleSign() {
	// The 9.1 example of the platform's documentation.
	p := digelao.NewParams().
		Set("user_sn", "SYSUSER|cb31d43bc89487492bb0e0dd720705e0").
		Set("api_key", "MUOm4NH1").
		Set("open_callback", false).
		Set("callback_url", "http://120.78.227.216:81/api/testPush")
	sig, err := digelao.Sign(p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sig)
	// Output: ef333344
}

func ExampleParams_MarshalJSON() {
	p := digelao.NewParams().Set("source", "回访任务").Set("pageSize", 5).Set("path", "/mnt/record")
	b, err := p.MarshalJSON()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	// Output: {"source":"\u56de\u8bbf\u4efb\u52a1","pageSize":"5","path":"\/mnt\/record"}
}

func ExampleNew() {
	c, err := digelao.New("https://ai123.example.com",
		digelao.WithPassword("demo_user", "secret"), // or WithAccessKey, or WithAPIKey
		digelao.WithTimeout(15*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	_ = c
}

func ExampleClient_SetCallback() {
	c, err := digelao.New("https://ai123.example.com", digelao.WithAccessKey("access-id", "access-secret"))
	if err != nil {
		log.Fatal(err)
	}
	err = c.SetCallback(context.Background(), &digelao.CallbackRequest{
		Open:            true,
		CallbackURL:     "https://crm.example.com/digelao/push?token=long-random-token",
		TaskCallbackURL: "https://crm.example.com/digelao/push?token=long-random-token",
	})
	switch {
	case errors.Is(err, digelao.ErrPermission):
		log.Fatal("ask the platform's support to enable API access")
	case err != nil:
		log.Fatal(err)
	}
}

func ExampleClient_Do() {
	c, err := digelao.New("https://ai123.example.com", digelao.WithPassword("demo_user", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	// An endpoint without a typed method yet: 4.3 外呼时间列表.
	var hours map[string]any
	if err := c.Do(context.Background(), "POST", "/api/callTimeList", nil, &hours); err != nil {
		var apiErr *digelao.APIError
		if errors.As(err, &apiErr) {
			log.Fatalf("platform said %d: %s", apiErr.Code, apiErr.Msg)
		}
		log.Fatal(err)
	}
	fmt.Println(hours["week1"])
}
