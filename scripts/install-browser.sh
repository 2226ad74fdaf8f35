#!/usr/bin/env bash
# Install the browser the explorer's end-to-end test drives: Debian's chromium at /usr/bin/chromium.
#
# Playwright's own `playwright install` downloads a browser build from the internet; we never run
# it. Instead this script installs the distribution package, and only when
#   * /usr/bin/chromium is missing,
#   * we are root (or RAVINE_NO_BROWSER_INSTALL is unset and sudo is not needed), and
#   * apt-get exists.
# Otherwise it says why and exits 0, so `make test` goes on; the e2e test then skips with a reason.
set -u
CHROMIUM="${RAVINE_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "install-browser: $CHROMIUM is present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi
if [ -n "${RAVINE_NO_BROWSER_INSTALL:-}" ]; then
    echo "install-browser: RAVINE_NO_BROWSER_INSTALL is set; not installing chromium"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install-browser: $CHROMIUM is missing and we are not root; the browser test will be skipped" \
         "(as root: apt-get install -y chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: $CHROMIUM is missing and apt-get is not available; the browser test will be skipped"
    exit 0
fi
echo "install-browser: installing Debian's chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -q && apt-get install -y -q --no-install-recommends chromium; then
    echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
else
    echo "install-browser: apt-get could not install chromium; the browser test will be skipped"
fi
exit 0
