package flow

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// clipCheck is a script added to the page Chromium renders: it lists every
// text element of a chart whose bounding box extends outside its SVG's
// viewport (cut off on screen) in a <pre id="clipped">.
const clipCheck = `<script>
(function () {
  var out = [];
  document.querySelectorAll("svg").forEach(function (svg, i) {
    var s = svg.getBoundingClientRect();
    svg.querySelectorAll("text").forEach(function (t) {
      var r = t.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return;
      if (r.left < s.left - 0.5 || r.right > s.right + 0.5 || r.top < s.top - 0.5 || r.bottom > s.bottom + 0.5) {
        out.push("chart " + (i + 1) + " text " + JSON.stringify(t.textContent) + " spans x " + r.left.toFixed(1) + "-" + r.right.toFixed(1) +
          ", y " + r.top.toFixed(1) + "-" + r.bottom.toFixed(1) + "; its SVG x " + s.left.toFixed(1) + "-" + s.right.toFixed(1) +
          ", y " + s.top.toFixed(1) + "-" + s.bottom.toFixed(1));
      }
    });
  });
  var pre = document.createElement("pre");
  pre.id = "clipped";
  pre.textContent = "checked " + document.querySelectorAll("svg text").length + " texts\n" + out.join("\n");
  document.body.appendChild(pre);
})();
</script>`

// checkInChromium opens the report in headless Chromium (Debian's
// chromium), served by a local server that records every request: the page
// must render every chart, log no console error, request nothing but
// itself, and no chart's text may extend outside its chart (clipCheck,
// added to the served page). It skips when Chromium is not installed
// (.ci/run installs it).
func checkInChromium(t *testing.T, html []byte, charts int) {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Log("skipping the Chromium check: chromium is not installed")
		return
	}
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/report.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(bytes.Replace(html, []byte("</body>"), []byte(clipCheck+"</body>"), 1))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--dump-dom", srv.URL+"/report.html")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := stdout.String()
	if n := strings.Count(dom, "<svg"); n != charts {
		t.Errorf("Chromium rendered %d charts, want %d", n, charts)
	}
	_, clipped, ok := strings.Cut(dom, `<pre id="clipped">checked `)
	clipped, _, _ = strings.Cut(clipped, "</pre>")
	count, clipped, _ := strings.Cut(clipped, "\n")
	switch {
	case !ok:
		t.Error("the clipping check did not run")
	case charts > 0 && count == "0 texts":
		t.Error("the clipping check found no chart text")
	case strings.TrimSpace(clipped) != "":
		t.Errorf("chart texts cut off at their chart's edge:\n%s", clipped)
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "CONSOLE") {
			t.Errorf("console message: %s", line)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range requests {
		if p != "/report.html" && p != "/favicon.ico" {
			t.Errorf("the report requested %s", p)
		}
	}
}
