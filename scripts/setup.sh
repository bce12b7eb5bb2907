#!/usr/bin/env bash
# What photosift needs besides Rust, checked and (where it may) installed: run it once before
# `cargo install --locked --path .`, `cargo run --release -- demo` or `cargo test --release`.
#
#   scripts/setup.sh          what building photosift needs
#   scripts/setup.sh --test   also the tools the tests drive (CI runs this, see .ci/run)
#
# It checks each piece and prints what is missing. With apt-get, as root or with password-less
# sudo, it installs the missing Debian/Ubuntu packages itself; otherwise it prints the exact
# command to run and exits 1. Nothing missing: it changes nothing and prints "ready", so it
# can run any number of times.
#
# Why each piece is needed:
# - a C compiler (cc) and make: Rust links through cc; the bundled SQLite (rusqlite) and
#   Oniguruma (tokenizers) are compiled with it, and libjpeg-turbo is built through cmake's
#   Makefiles.
# - cmake and nasm build libjpeg-turbo from source, with its SIMD code (the turbojpeg crate's
#   `cmake` and `require-simd` features: on x86 without nasm the build stops).
# - pkg-config and libheif-dev (libheif >= 1.14; Debian 12 ships 1.15) link HEIC/HEIF decoding
#   (libheif-sys asks pkg-config for libheif); the tests also encode HEIC fixtures with its x265
#   encoder.
# - libde265-dev links photosift's own HEVC decoder plugin (src/imaging/hevc_decoder.rs).
# With --test:
# - tmux drives the real binary in the TUI end-to-end tests;
# - Xvfb, xterm, kitty (on Mesa's software GL: libgl1-mesa-dri), xdotool and ImageMagick's
#   `import` run the real terminal emulators for tests/it/term_graphics.rs (sixel and kitty
#   graphics, screenshots); fonts-dejavu-core gives xterm's `-fa Monospace` a font.
# (setpriv and mount, from util-linux, are always there on Debian.)
set -euo pipefail

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

test_tools=false
for arg in "$@"; do
  case "$arg" in
    --test) test_tools=true ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

missing=()   # what is missing, in words
packages=()  # the Debian packages that bring it
add_pkg() {
  local p
  for p in "$@"; do
    [[ " ${packages[*]-} " == *" $p "* ]] || packages+=("$p")
  done
}
have() { command -v "$1" >/dev/null 2>&1; }
# Whether a Debian package is installed (false where there is no dpkg).
deb_installed() {
  have dpkg-query && [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == *" installed" ]]
}
# Whether apt knows a package (its name differs between releases).
apt_knows() {
  have apt-cache && apt-cache show "$1" >/dev/null 2>&1
}

check() {
  missing=()
  packages=()
  rust_problem=""

  # Rust itself is not installed here: Debian's rustc is too old for the locked dependencies.
  if ! have cargo || ! have rustc; then
    rust_problem="Rust (cargo, rustc) is not installed: install it from https://rustup.rs"
  else
    local v major minor
    v="$(rustc --version | awk '{print $2}')"
    major="${v%%.*}"
    minor="${v#*.}"
    minor="${minor%%.*}"
    if [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] && ((major == 1 && minor < 90)); then
      rust_problem="rustc $v is too old: the locked dependencies need 1.90 or newer (rustup update stable)"
    fi
  fi

  if ! have "${CC:-cc}"; then
    missing+=("a C compiler (${CC:-cc})")
    add_pkg build-essential
  fi
  if ! have make && [[ -z "${CMAKE_GENERATOR:-}" ]]; then
    missing+=("make")
    add_pkg make
  fi
  if ! have pkg-config; then
    missing+=("pkg-config")
    add_pkg pkg-config
  fi
  have cmake || { missing+=("cmake"); add_pkg cmake; }
  # nasm assembles libjpeg-turbo's x86 SIMD code (ARM's NEON code needs none).
  case "$(uname -m)" in
    x86_64 | amd64 | i?86) have nasm || { missing+=("nasm"); add_pkg nasm; } ;;
  esac
  if ! have pkg-config || ! pkg-config --atleast-version=1.14 libheif 2>/dev/null; then
    if have pkg-config && pkg-config --exists libheif 2>/dev/null; then
      missing+=("libheif >= 1.14 (pkg-config finds $(pkg-config --modversion libheif))")
    else
      missing+=("libheif (pkg-config --exists libheif)")
    fi
    add_pkg libheif-dev
  fi
  if ! have pkg-config || ! pkg-config --exists libde265 2>/dev/null; then
    missing+=("libde265 (pkg-config --exists libde265)")
    add_pkg libde265-dev
  fi
  # Newer releases (Debian 13, Ubuntu 24.04) ship libheif's codecs as plugin packages.
  if apt_knows libheif-plugin-libde265 && ! deb_installed libheif-plugin-libde265; then
    missing+=("libheif's HEVC decoder plugin")
    add_pkg libheif-plugin-libde265
  fi

  if $test_tools; then
    have tmux || { missing+=("tmux"); add_pkg tmux; }
    have Xvfb || { missing+=("Xvfb"); add_pkg xvfb; }
    have xterm || { missing+=("xterm"); add_pkg xterm; }
    have kitty || { missing+=("kitty"); add_pkg kitty; }
    have import || { missing+=("ImageMagick's import"); add_pkg imagemagick; }
    have xdotool || { missing+=("xdotool"); add_pkg xdotool; }
    if have dpkg-query; then
      deb_installed libgl1-mesa-dri || { missing+=("Mesa's software GL (for kitty)"); add_pkg libgl1-mesa-dri; }
      deb_installed fonts-dejavu-core || { missing+=("the DejaVu fonts (for xterm)"); add_pkg fonts-dejavu-core; }
    fi
    if apt_knows libheif-plugin-x265 && ! deb_installed libheif-plugin-x265; then
      missing+=("libheif's x265 encoder plugin (HEIC test fixtures)")
      add_pkg libheif-plugin-x265
    fi
  fi
}

can_install() {
  have apt-get || return 1
  if [[ "$(id -u)" == 0 ]]; then
    sudo=()
  elif have sudo && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    return 1
  fi
}

join() {
  local out="" item
  for item in "$@"; do out+="${out:+, }$item"; done
  echo "$out"
}

check
[[ -z "$rust_problem" ]] || echo "$rust_problem" >&2
if ((${#missing[@]} > 0)); then
  echo "missing: $(join "${missing[@]}")"
  if can_install; then
    echo "installing: ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    ${sudo[@]+"${sudo[@]}"} apt-get update -qq
    ${sudo[@]+"${sudo[@]}"} apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    check
    if ((${#missing[@]} > 0)); then
      echo "still missing after apt-get install: $(join "${missing[@]}")" >&2
      exit 1
    fi
  else
    if have apt-get; then
      echo "run:  sudo apt-get install -y --no-install-recommends ${packages[*]}"
    else
      if have dnf; then
        # Not tested here (only Debian is); the names are Fedora's.
        echo "run (Fedora, untested):  sudo dnf install -y gcc make pkgconf-pkg-config cmake nasm libheif-devel libde265-devel"
      elif have brew; then
        # Not tested here (only Debian is).
        echo "run (Homebrew, untested):  brew install pkg-config cmake nasm libheif libde265"
      fi
      echo "(the Debian packages for what is missing: ${packages[*]})"
    fi
    echo "then run scripts/setup.sh${1:+ $*} again"
    exit 1
  fi
fi

if [[ -n "$rust_problem" ]]; then
  exit 1
fi
if $test_tools; then
  echo "ready: cargo test --release"
else
  echo "ready: cargo install --locked --path . (then photosift demo), or cargo run --release -- demo"
fi
