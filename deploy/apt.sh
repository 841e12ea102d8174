# Sourced, not run: apt_install for the set-up scripts that need Debian packages (bootstrap.sh,
# test-tools.sh, homeassistant.sh).

# apt_install WHO PACKAGE...: install the packages with apt-get, through sudo when not root; nothing
# when no package is given. WHO names the calling script in what it prints.
apt_install() {
    [ $# -gt 1 ] || return 0
    local who=$1 root=()
    shift
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "$who: need root to install: $*" >&2; exit 1; }
        root=(sudo)
    fi
    echo "$who: installing system packages: $*"
    "${root[@]}" apt-get update -qq
    # env, not a prefix assignment: sudo would drop DEBIAN_FRONTEND from the environment.
    "${root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}
