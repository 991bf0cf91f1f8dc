#!/usr/bin/env bash
# The reference dashboard in a real browser (issue 15, section 4): serves the
# built dashboard (dashboards/dist, from `make dashboards`) on 127.0.0.1,
# renders every page in headless Chromium (Debian's chromium), saves a
# screenshot of each in dashboards/screenshots/, and fails when a page shows
# fewer panels than its source declares, or a panel shows an error or no
# data (dashboards/src/components/panel.js marks each panel csm-panel-ok,
# csm-panel-empty or csm-panel-error; Framework marks a failed cell
# observablehq--error).  `make test-dashboards` runs it.
set -euo pipefail
cd "$(dirname "$0")"

CHROMIUM=${CHROMIUM:-chromium}
command -v "$CHROMIUM" >/dev/null || { echo "dashboards/test.sh: $CHROMIUM not found (apt-get install -y chromium)" >&2; exit 2; }
[ -f dist/index.html ] || { echo "dashboards/test.sh: dist/ is not built: run make dashboards first" >&2; exit 2; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory dist >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/index.html')" 2>/dev/null && break
    sleep 0.2
done

browse() {
    # --virtual-time-budget lets the page's modules load and its cells run
    # (virtual time: no wall-clock wait) before the DOM or picture is taken.
    timeout 120 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --hide-scrollbars --virtual-time-budget=30000 --window-size=1400,2400 "$@" 2>/dev/null
}

mkdir -p screenshots
failed=0
for src in src/*.md; do
    page=$(basename "$src" .md)
    url="http://127.0.0.1:$port/$page.html"
    declared=$(grep -c 'panel(' "$src" || true)
    dom=$(browse --dump-dom "$url")
    panels=$(grep -o 'class="card csm-panel[^"]*"' <<<"$dom" || true)
    total=$(grep -c . <<<"$panels" || true)
    ok=$(grep -c 'csm-panel-ok' <<<"$panels" || true)
    errors=$(grep -o 'observablehq--error[^<]*<[^<]*' <<<"$dom" | head -3 || true)
    browse --screenshot="screenshots/$page.png" "$url" >/dev/null
    if [ "$total" -lt "$declared" ] || [ "$ok" -ne "$total" ] || [ -n "$errors" ] || [ ! -s "screenshots/$page.png" ]; then
        echo "not ok - $page: $ok of $total panels show data (the page declares $declared)${errors:+; error: $errors}"
        grep -o 'data-panel="[^"]*"[^>]*csm-panel-\(empty\|error\)\|csm-panel-\(empty\|error\)"[^>]*data-panel="[^"]*"' <<<"$dom" | sed 's/^/    /' || true
        failed=$((failed + 1))
    else
        echo "ok - $page: $ok panels with data, screenshot dashboards/screenshots/$page.png"
    fi
done
[ "$failed" -eq 0 ] || { echo "dashboards/test.sh: $failed page(s) failed" >&2; exit 1; }
