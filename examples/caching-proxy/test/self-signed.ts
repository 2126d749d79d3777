// A self-signed certificate for 127.0.0.1 (valid until 2126), for the test that an https
// upstream's certificate is verified. Test material only: it protects nothing.
export const selfSignedKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgy/A8a/PgkBKRNOnK
M70SmDLBTpLuCQ++c5MmNf8/JsyhRANCAAQ4dgrKlGHo6WZNEk888PCSzdo9UxAK
FVU59mlHWUY0OAN/jsqZYlLjUp1lBEfO0eVXpAWCmzvyCuBgNjIfmAN3
-----END PRIVATE KEY-----
`

export const selfSignedCert = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUeZvN9pl3BaUTQinbGhgOASkfTrswCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMjAwMzQ1MloYDzIxMjYxMDI5
MDAzNDUyWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQ4dgrKlGHo6WZNEk888PCSzdo9UxAKFVU59mlHWUY0OAN/jsqZYlLj
Up1lBEfO0eVXpAWCmzvyCuBgNjIfmAN3o28wbTAdBgNVHQ4EFgQUtB/p4XTvhhwb
4D+JtJjnFZ7+X+gwHwYDVR0jBBgwFoAUtB/p4XTvhhwb4D+JtJjnFZ7+X+gwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
zj0EAwIDSAAwRQIhAO6VPiY1L+E+pVVuEfCsuo2uoKgjT83xfzPX3lMeSHLMAiAf
XdrM9sjLxeGrqwXUBrFcg4WAKACSNBByC7OpKasp9Q==
-----END CERTIFICATE-----
`
