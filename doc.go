// Package digelao is a typed client for the 狄阁老 (Di Gelao) AI call-center platform.
//
// A Client holds the platform's three common parameters: user_sn and api_key, obtained by logging
// in (WithAccessKey for login 1.2, WithPassword for login 1.3) or given fixed (WithAPIKey), and
// the base URL of the account's console. It signs every request with the third, "url", exactly as
// the platform's PHP server checks it, shares one api_key among all callers (and, with a shared
// TokenStore, among processes), logs in again once when the key is refused, and maps the
// platform's codes to errors that match sentinels such as ErrAPIKeyExpired with errors.Is.
//
//	c, err := digelao.New("https://ai123.example.com", digelao.WithPassword(user, pass))
//	if err != nil {
//		return err
//	}
//	err = c.SetCallback(ctx, digelao.CallbackRequest{Open: true, CallbackURL: pushURL})
//
// Typed services cover the documented API areas — c.Tasks, c.Records and c.Templates for the
// everyday flow, c.Accounts, c.CallTimes, c.Customers and c.Blacklist for administration; Client.Do
// calls any other endpoint with ordered Params. PushHandler receives the platform's pushes (call
// records, import results, task analytics) and answers SUCCESS only once they are handled. Section
// numbers in doc comments ("Platform API 9.1") refer to the platform's documentation; what the
// documentation does not state and the SDK infers is marked as such.
package digelao
