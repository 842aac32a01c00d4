package testutil

import (
	"io"
	"net/http"
	"testing"
)

// HTTPDo makes an HTTP request with the headers given (and, with a body,
// its Content-Length set to size) and returns the response with its whole
// body read.
func HTTPDo(t testing.TB, method, url string, body io.Reader, size int64, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.ContentLength = size
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the response: %v", method, url, err)
	}
	return resp, string(data)
}
