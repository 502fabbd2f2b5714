#!/usr/bin/env bash
# Installs the build into a fresh prefix and builds a C host against it with
# pkg-config alone, then runs it with a model placed in the installed models
# folder. Usage: check_install.sh BUILD_DIR SOURCE_DIR TINY_MODEL WORK_DIR CC
set -euo pipefail
build=$1 source=$2 model=$3 work=$4 cc=$5
rm -rf "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name libcutout.so -printf '%h\n' | head -n 1)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
test -f "$prefix/share/cutout/nodes.json"
cp "$model" "$prefix/share/cutout/models/installed_tiny.pt"
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
"$cc" -std=c11 -Wall -Werror -o "$work/installed_host" "$source/tests/install/installed_host.c" \
  $(pkg-config --cflags --libs cutout) -Wl,-rpath,"$libdir"
"$work/installed_host" "$prefix" installed_tiny
