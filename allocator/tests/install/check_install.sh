#!/bin/sh
# Installs the build tree BUILD_DIR into a fresh prefix (cmake --install) and builds and runs
# the consumer there as an outside project would: KIND 'cmake' with find_package(mem_io)
# (both targets), KIND 'make' with a Makefile and pkg-config.
# Usage: check_install.sh BUILD_DIR KIND [C_COMPILER]
set -eu
build=$1 kind=$2 cc=${3:-cc}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" > "$work/install.log"

# The projects refer to ../consumer.c: copy them next to it, outside the mem_io tree.
cp "$here/consumer.c" "$work/"
case $kind in
cmake)
  cp -r "$here/cmake_project" "$work/project"
  cmake -S "$work/project" -B "$work/project/build" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log"
  cmake --build "$work/project/build" > "$work/build.log"
  "$work/project/build/consumer_static"
  "$work/project/build/consumer_shared"
  ;;
make)
  cp -r "$here/make_project" "$work/project"
  pc=$(find "$prefix" -name mem_io.pc)
  PKG_CONFIG_PATH=$(dirname "$pc") make -s -C "$work/project" CC="$cc"
  "$work/project/consumer"
  ;;
*)
  echo "check_install.sh: KIND must be 'cmake' or 'make', not '$kind'" >&2
  exit 2
  ;;
esac
echo "install ($kind): ok"
