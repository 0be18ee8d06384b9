package digelao

// StoreKey returns the key under which the client's session is kept in its TokenStore.
func (c *Client) StoreKey() string { return c.auth.key }
