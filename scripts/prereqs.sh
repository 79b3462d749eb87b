#!/usr/bin/env bash
# Check (and, as root on Debian/Ubuntu, install) the system packages screener needs, in one line each.
#   scripts/prereqs.sh build    PyICU builds from source: a C++ compiler, pkg-config and ICU headers
#   scripts/prereqs.sh test     also Debian's chromium, LibreOffice and a CJK font (report printing),
#                               PostgreSQL, poppler
set -euo pipefail
what=${1:-build}

missing=()
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists icu-i18n 2>/dev/null || missing+=(libicu-dev)
if [ "$what" = test ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-calc-nogui)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v pdfinfo >/dev/null 2>&1 || missing+=(poppler-utils)
  fc-list 2>/dev/null | grep -q 'Noto Sans CJK' || missing+=(fonts-noto-cjk)  # Chinese names in printed reports
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "screener needs system packages that are missing: ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
exit 1
