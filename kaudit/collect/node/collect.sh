#!/bin/sh
# kaudit node collector -- record format "KAUDIT-NODE 1" (docs/node-collection.md).
#
# Runs on any Linux node with a POSIX sh: reads /proc directly and uses only
# stat, od, tr, cat-like builtins, and grep/id/getent/date when present.
# It changes nothing on the node. Sent on stdin ("sh -s"), so every command
# below that could read stdin gets </dev/null (main is called that way).
#
# Environment:
#   KAUDIT_ROOT  host filesystem prefix (default /); output paths never carry it
#   KAUDIT_PROC  proc filesystem to read (default /proc)
#   KAUDIT_MAX_CONTENT  content size cap in bytes (default 262144)
#
# Output: one record per line, fields separated by one space. A field that is
# not made only of [A-Za-z0-9._/+:@,~=-] is written as "%" + hex of its bytes
# ("%" alone is the empty string), so any byte survives (argv, paths, content).
# The last line is "END <n>", n the number of records between the header and
# END: a reader tells a complete record from one cut short, even at a line
# boundary.

COLLECTOR_VERSION=kaudit-collect/1
NL='
'
CR=$(printf '\r')

have() { command -v "$1" >/dev/null 2>&1; }

# Every record ends with a printf whose format ends in \n; counting those here
# (not at each record kind) keeps END's count true for records added later.
# Output captured by $(...) or printed in a pipeline runs in a subshell, so it
# is not counted (it is data inside a record, never a record of its own):
# never print records from a pipeline (`... | while`); read a here-document.
NREC=0
printf() {
    command printf "$@" || return
    pf=$1
    while :; do
        case $pf in
            *'\n'*) NREC=$((NREC + 1)); pf=${pf#*'\n'} ;;
            *) return 0 ;;
        esac
    done
}

# hex of a string / of a file's bytes
hexs() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

tok() {
    case $1 in
        '') printf '%%' ;;
        *[!A-Za-z0-9._/+:@,~=-]*) printf '%%'; hexs "$1" ;;
        *) printf '%s' "$1" ;;
    esac
}

err() { printf 'ERROR '; tok "$1"; printf '\n'; }

# ---------------------------------------------------------------------------
# Files: metadata (FILE / MISSING / FILEERR) and contents (CONTENT / CONTENTERR)
# ---------------------------------------------------------------------------

SEEN_F=$NL
SEEN_C=$NL
SEEN_UID=' '
SEEN_GID=' '
NFILES=0
MAXFILES=${KAUDIT_MAX_FILES:-4000}

fileerr() { printf 'FILEERR '; tok "$1"; printf ' '; tok "$2"; printf '\n'; }
cerr() { printf 'CONTENTERR '; tok "$1"; printf ' '; tok "$2"; printf '\n'; }
# listerr DIR REASON: the directory's listing is missing or incomplete
listerr() { printf 'LISTERR '; tok "$1"; printf ' '; tok "$2"; printf '\n'; }

# statf HOSTPATH: one FILE, MISSING or FILEERR record (once per path).
# Symlinks are followed: modes and owners that matter are the target's.
statf() {
    sp=$1
    case $SEEN_F in *"$NL$sp$NL"*) return 0 ;; esac
    SEEN_F=$SEEN_F$sp$NL
    NFILES=$((NFILES + 1))
    if [ "$NFILES" -gt "$MAXFILES" ]; then
        [ "$NFILES" -eq $((MAXFILES + 1)) ] && err "file limit ($MAXFILES) reached; further files not inspected"
        return 1
    fi
    sf=$R$sp
    if [ ! -e "$sf" ] && [ ! -L "$sf" ]; then
        sd=${sf%/*}
        [ -n "$sd" ] || sd=/
        if [ -d "$sd" ] && [ -x "$sd" ]; then
            printf 'MISSING '; tok "$sp"; printf '\n'
            return 1
        fi
    fi
    so=$(stat -L -c '%F|%a|%u|%g|%s' -- "$sf" 2>&1 </dev/null)
    if [ $? -ne 0 ]; then
        if [ -L "$sf" ]; then
            fileerr "$sp" "dangling symlink"
        else
            case $so in
                *"No such file"*|*"Not a directory"*) printf 'MISSING '; tok "$sp"; printf '\n' ;;
                *) so=${so#"stat: "}; fileerr "$sp" "${so:-stat failed}" ;;
            esac
        fi
        return 1
    fi
    sft=${so%%|*}; so=${so#*|}
    smode=${so%%|*}; so=${so#*|}
    suid=${so%%|*}; so=${so#*|}
    sgid=${so%%|*}; ssize=${so#*|}
    case $sft in
        directory) sft=dir ;;
        "regular file"|"regular empty file") sft=file ;;
        *) sft=other ;;
    esac
    case $SEEN_UID in *" $suid "*) ;; *) SEEN_UID="$SEEN_UID$suid " ;; esac
    case $SEEN_GID in *" $sgid "*) ;; *) SEEN_GID="$SEEN_GID$sgid " ;; esac
    printf 'FILE '; tok "$sp"; printf ' %s %s %s %s %s\n' "$sft" "$smode" "$suid" "$sgid" "$ssize"
    return 0
}

# walk HOSTPATH DEPTH: statf a directory and everything below it.
walk() {
    if ! statf "$1"; then
        [ "$NFILES" -gt "$MAXFILES" ] && listerr "$1" "file limit ($MAXFILES) reached: not listed"
        return 0
    fi
    [ "$2" -gt 0 ] || return 0
    wd=$R$1
    [ -d "$wd" ] || return 0
    if [ ! -r "$wd" ] || [ ! -x "$wd" ]; then
        err "cannot list $1: permission denied"
        listerr "$1" "permission denied"
        return 0
    fi
    for we in "$wd"/* "$wd"/.[!.]* "$wd"/..?*; do
        [ -e "$we" ] || [ -L "$we" ] || continue
        if [ -d "$we" ] && [ ! -L "$we" ]; then
            walk "${we#"$R"}" $(($2 - 1))
        else
            statf "${we#"$R"}"
        fi
    done
    # past the file limit, entries of this directory went unrecorded
    [ "$NFILES" -gt "$MAXFILES" ] && listerr "$1" "file limit ($MAXFILES) reached: listing cut short"
    return 0
}

# redact_secrets FILE: EncryptionConfiguration with every key secret replaced,
# so secrets never leave the node (YAML "secret: x" and JSON "secret":"x").
redact_secrets() {
    while IFS= read -r rl || [ -n "$rl" ]; do
        ro=
        while :; do
            case $rl in
                *'"secret"'*)
                    ro=$ro${rl%%\"secret\"*}'"secret":"REDACTED"'
                    rl=${rl#*\"secret\"}
                    rl=${rl#*\"}; rl=${rl#*\"}
                    ;;
                *secret:*)
                    ro=$ro${rl%%secret:*}'secret: REDACTED'
                    rl=
                    break
                    ;;
                *) ro=$ro$rl; break ;;
            esac
        done
        printf '%s\n' "$ro"
    done < "$1"
}

# content HOSTPATH [redact]: the file's bytes, for config files checks parse.
# Never private keys; never above the size cap. Binary is detected by the parser.
content() {
    cp=$1
    case $SEEN_C in *"$NL$cp$NL"*) return 0 ;; esac
    SEEN_C=$SEEN_C$cp$NL
    cf=$R$cp
    statf "$cp"
    [ -e "$cf" ] || return 0
    content_of "$cp" "$cf" "$2"
}

# podfile PID PATH: a file as process PID sees it in its own mount namespace
# (kube-proxy's --config is a ConfigMap mounted in its pod, not on the host),
# recorded as /proc/PID/root/PATH; contents only.
podfile() {
    pr=/proc/$1/root$2
    case $SEEN_C in *"$NL$pr$NL"*) return 0 ;; esac
    SEEN_C=$SEEN_C$pr$NL
    pf=$P/$1/root$2
    if [ ! -e "$pf" ]; then
        if [ -r "$P/$1/root/" ]; then cerr "$pr" "does not exist"; else cerr "$pr" "permission denied"; fi
        return 0
    fi
    content_of "$pr" "$pf" ""
}

# content_of RECORDPATH FILE [redact]: CONTENT (or CONTENTERR) for FILE's bytes.
content_of() {
    cp=$1
    cf=$2
    if [ ! -f "$cf" ]; then cerr "$cp" "not a regular file"; return 0; fi
    case $cp in
        *.key|*/pki/*.key) cerr "$cp" "private key: contents are never collected"; return 0 ;;
    esac
    if [ ! -r "$cf" ]; then cerr "$cp" "permission denied"; return 0; fi
    csz=$(stat -L -c %s -- "$cf" 2>/dev/null </dev/null)
    case $csz in ''|*[!0-9]*) cerr "$cp" "cannot read size"; return 0 ;; esac
    if [ "$csz" -gt "$MAXBYTES" ]; then cerr "$cp" "too large ($csz bytes)"; return 0; fi
    cfirst=
    IFS= read -r cfirst < "$cf" 2>/dev/null
    case $cfirst in *"PRIVATE KEY"*) cerr "$cp" "private key: contents are never collected"; return 0 ;; esac
    if have grep && grep -q 'PRIVATE KEY-----' "$cf" 2>/dev/null </dev/null; then
        cerr "$cp" "private key: contents are never collected"; return 0
    fi
    if [ "$3" = redact ]; then
        ch=$(redact_secrets "$cf" 2>&1 | od -An -v -tx1)
    else
        ch=$(od -An -v -tx1 < "$cf" 2>&1)
    fi
    if [ $? -ne 0 ]; then cerr "$cp" "read failed: $ch"; return 0; fi
    printf 'CONTENT '; tok "$cp"; printf ' %%'
    printf '%s' "$ch" | tr -d ' \n'
    printf '\n'
}

# manifests HOSTDIR: a static pod directory (or file): metadata and contents.
manifests() {
    statf "$1" || return 0
    md=$R$1
    if [ -f "$md" ]; then content "$1"; return 0; fi
    [ -d "$md" ] || return 0
    if [ ! -r "$md" ] || [ ! -x "$md" ]; then listerr "$1" "permission denied"; return 0; fi
    for me in "$md"/*; do
        [ -e "$me" ] || continue
        case $me in
            *.yaml|*.yml|*.json|*.manifest) content "${me#"$R"}" ;;
            *) statf "${me#"$R"}" ;;
        esac
    done
}

# listdir HOSTDIR: the directory and its entries (one level), metadata only.
listdir() { walk "$1" 1; }

# confdir HOSTDIR DEPTH: a directory of *.conf drop-ins (kubelet --config-dir,
# kubelet.service.d): metadata of everything below it, contents of *.conf.
# The kubelet walks --config-dir recursively (filepath.WalkDir).
confdir() {
    statf "$1" || return 0
    cd_=$R$1
    [ -d "$cd_" ] || return 0
    if [ ! -r "$cd_" ] || [ ! -x "$cd_" ]; then
        err "cannot list $1: permission denied"
        return 0
    fi
    for ce in "$cd_"/* "$cd_"/.[!.]* "$cd_"/..?*; do
        [ -e "$ce" ] || [ -L "$ce" ] || continue
        if [ -d "$ce" ] && [ ! -L "$ce" ]; then
            if [ "$2" -gt 0 ]; then confdir "${ce#"$R"}" $(($2 - 1)) "$3"; else statf "${ce#"$R"}"; fi
        else
            case $ce in
                *.conf) content "${ce#"$R"}"
                        case $KUBELET_DROPINS in *"$NL${ce#"$R"}$NL"*) ;;
                            *) [ "$3" = kubelet ] && KUBELET_DROPINS=$KUBELET_DROPINS${ce#"$R"}$NL ;; esac ;;
                *) statf "${ce#"$R"}" ;;
            esac
        fi
    done
}

# yamldir HOSTDIR: a k3s/RKE2 config drop-in directory (config.yaml.d): its
# listing, and the contents of its *.yaml / *.yml files (k3s reads those,
# case-insensitively, in name order; pkg/configfilearg dotDFiles).
yamldir() {
    walk "$1" 1
    yd=$R$1
    [ -d "$yd" ] && [ -r "$yd" ] && [ -x "$yd" ] || return 0
    for ye in "$yd"/* "$yd"/.[!.]* "$yd"/..?*; do
        [ -f "$ye" ] || continue
        case $ye in *.[yY][aA][mM][lL]|*.[yY][mM][lL]) content "${ye#"$R"}" ;; esac
    done
}

# ---------------------------------------------------------------------------
# Flags that name files
# ---------------------------------------------------------------------------

KUBELET_CONFIG=
FPID=
KUBELET_DROPINS=$NL

# follow COMPONENT FLAG VALUE
follow() {
    fv=$3
    case $2 in
        --kube-apiserver-arg|--kube-controller-manager-arg|--kube-scheduler-arg|--kubelet-arg|--kube-proxy-arg|--etcd-arg|--kube-cloud-controller-manager-arg)
            # k3s/rke2 pass component flags as "name=value", for the component the flag names
            fc=${2#--}
            case $fv in *=*) follow "${fc%-arg}" "--${fv%%=*}" "${fv#*=}" ;; esac
            return 0 ;;
    esac
    [ -n "$fv" ] || return 0
    case $fv in
        /*) ;;
        *) err "$1 $2=$fv: relative path not followed"; return 0 ;;
    esac
    case $2 in
        --config|--config-file)
            content "$fv"
            case $1 in k3s-*|rke2-*) yamldir "$fv.d" ;; esac
            case $1 in
                kubelet) KUBELET_CONFIG=$fv ;;
                kube-scheduler|etcd) config_paths "$1" "$fv" ;;
            esac
            if [ "$1" = kube-proxy ] && [ -n "$FPID" ] && [ ! -e "$R$fv" ]; then podfile "$FPID" "$fv"; fi ;;
        --encryption-provider-config) content "$fv" redact ;;
        --audit-policy-file|--admission-control-config-file|--authorization-config|--authentication-config)
            content "$fv" ;;
        --config-dir) if [ "$1" = kubelet ]; then confdir "$fv" 8 kubelet; else statf "$fv"; fi ;;
        --pod-manifest-path) manifests "$fv" ;;
        --cert-dir) listdir "$fv" ;;
        --cni-conf-dir) walk "$fv" 3 ;;
        *) statf "$fv" ;;
    esac
    # the PKI directory a certificate or key lives in, recursively
    case $fv in
        */pki/*) walk "${fv%%/pki/*}/pki" 8 ;;
    esac
}

# config_paths COMPONENT FILE: the files a component's own config file names
# (the scheduler's clientConnection.kubeconfig; etcd's data-dir and TLS
# files), followed as if they were flags. A line-oriented scan, no YAML parser.
config_paths() {
    [ -f "$R$2" ] && [ -r "$R$2" ] || return 0
    while IFS= read -r ql || [ -n "$ql" ]; do
        qk=${ql%%:*}
        while :; do case $qk in ' '*|'	'*|'"'*|"'"*|-*) qk=${qk#?} ;; *) break ;; esac; done
        while :; do case $qk in *' '|*'	'|*'"'|*"'") qk=${qk%?} ;; *) break ;; esac; done
        case $qk in
            kubeconfig|data-dir|wal-dir|cert-file|key-file|trusted-ca-file|client-cert-file|client-key-file) ;;
            *) continue ;;
        esac
        qv=${ql#*:}
        qv=${qv%%" #"*}
        while :; do case $qv in ' '*|'	'*|'"'*|"'"*) qv=${qv#?} ;; *) break ;; esac; done
        while :; do case $qv in *' '|*'	'|*'"'|*"'"|*,|*"$CR") qv=${qv%?} ;; *) break ;; esac; done
        case $qv in /*) follow "$1" "--$qk" "$qv" ;; esac
    done < "$R$2"
}

path_flag() {
    case $1 in
        --config|--kubeconfig|--*-kubeconfig|--*-file|--*-dir|--*-path|--*-cafile|--*-certfile|--*-keyfile|--*-config|--*-arg) return 0 ;;
    esac
    return 1
}

# follow_argv COMPONENT ARGS(newline-separated, argv[0] first)
follow_argv() {
    fwant=
    ffirst=1
    while IFS= read -r fa; do
        if [ -n "$ffirst" ]; then ffirst=; continue; fi
        if [ -n "$fwant" ]; then follow "$1" "$fwant" "$fa"; fwant=; continue; fi
        case $fa in
            --*=*) path_flag "${fa%%=*}" && follow "$1" "${fa%%=*}" "${fa#*=}" ;;
            --*) path_flag "$fa" && fwant=$fa ;;
        esac
    done <<EOF
$2
EOF
}

# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

# identify ARGV0 ARGV1: the component name, as kaudit.components.identify_component.
identify() {
    ib=${1##*/}
    case $ib in
        kube-apiserver|kube-controller-manager|kube-scheduler|etcd|kubelet|kube-proxy)
            printf '%s' "$ib" ;;
        hyperkube)
            is=${2#kube-}
            case $is in
                apiserver|controller-manager|scheduler|proxy) printf 'kube-%s' "$is" ;;
                etcd|kubelet) printf '%s' "$is" ;;
            esac ;;
        k3s|rke2)
            case $2 in server|agent) printf '%s-%s' "$ib" "$2" ;; esac ;;
        "k3s server") printf k3s-server ;;
        "k3s agent") printf k3s-agent ;;
        "rke2 server") printf rke2-server ;;
        "rke2 agent") printf rke2-agent ;;
    esac
}

RUNNING=' '

# etcd_env PID: only the ETCD_* variables (entries joined by newlines, a
# newline inside a value carried as \001).
etcd_env() {
    ef=$P/$1/environ
    if [ ! -r "$ef" ]; then
        printf 'ENVERR %s ' "$1"; tok "permission denied"; printf '\n'; return 0
    fi
    eh=$(tr '\n\000' '\001\n' < "$ef" 2>/dev/null | while IFS= read -r el; do
            case $el in ETCD_*) printf '%s\n' "$el" ;; esac
        done | od -An -v -tx1)
    printf 'ENV %s %%' "$1"
    printf '%s' "$eh" | tr -d ' \n'
    printf '\n'
    # the variables that name files, followed as their flags would be
    # (etcd: ETCD_CONFIG_FILE is --config-file, ETCD_DATA_DIR is --data-dir).
    # Read from a here-document, not a pipe: the records `follow` prints must
    # be counted (and its seen-lists kept) in this shell, not a subshell.
    eall=$(tr '\000' '\n' < "$ef" 2>/dev/null)
    while IFS= read -r el; do
        case $el in
            ETCD_CONFIG_FILE=*|ETCD_DATA_DIR=*|ETCD_WAL_DIR=*|ETCD_*_FILE=*)
                en=${el%%=*}
                en=$(printf '%s' "${en#ETCD_}" | tr 'A-Z_' 'a-z-')
                follow etcd "--$en" "${el#*=}" ;;
        esac
    done <<EOF
$eall
EOF
}

# dist_env PID: the K3S_*/RKE2_* variables that decide k3s's datastore and
# config file (kaudit.rules.effective.k3s ENV_OPTIONS), as an ENV record. The
# datastore endpoint travels only as set (it may hold a password); the token
# and every other variable never leave the node.
dist_env() {
    ef=$P/$1/environ
    if [ ! -r "$ef" ]; then
        printf 'ENVERR %s ' "$1"; tok "permission denied"; printf '\n'; return 0
    fi
    eh=$(tr '\n\000' '\001\n' < "$ef" 2>/dev/null | while IFS= read -r el; do
            case $el in
                K3S_DATASTORE_ENDPOINT=?*|RKE2_DATASTORE_ENDPOINT=?*)
                    printf '%s=<redacted by kaudit>\n' "${el%%=*}" ;;
                K3S_CLUSTER_INIT=*|K3S_URL=*|K3S_DATA_DIR=*|K3S_KUBECONFIG_OUTPUT=*|K3S_KUBECONFIG_MODE=*|\
                K3S_NODE_NAME=*|K3S_CONFIG_FILE=*|RKE2_CLUSTER_INIT=*|RKE2_URL=*|RKE2_DATA_DIR=*|\
                RKE2_KUBECONFIG_OUTPUT=*|RKE2_KUBECONFIG_MODE=*|RKE2_NODE_NAME=*|RKE2_CONFIG_FILE=*)
                    printf '%s\n' "$el" ;;
            esac
        done | od -An -v -tx1)
    printf 'ENV %s %%' "$1"
    printf '%s' "$eh" | tr -d ' \n'
    printf '\n'
}

process() {
    pd=${1%/cmdline}
    pid=${pd##*/}
    pargs=$(tr '\000' '\n' < "$1" 2>/dev/null) || return 0
    [ -n "$pargs" ] || return 0
    pa0=${pargs%%"$NL"*}
    case $pargs in
        *"$NL"*) pa1=${pargs#*"$NL"}; pa1=${pa1%%"$NL"*} ;;
        *) pa1= ;;
    esac
    pc=$(identify "$pa0" "$pa1")
    [ -n "$pc" ] || return 0
    ph=$(od -An -v -tx1 < "$1" 2>/dev/null) || return 0
    printf 'PROC %s %s %%' "$pid" "$pc"
    printf '%s' "$ph" | tr -d ' \n'
    printf '\n'
    RUNNING="$RUNNING$pc "
    FPID=$pid
    follow_argv "$pc" "$pargs"
    FPID=
    [ "$pc" = etcd ] && etcd_env "$pid"
    case $pc in k3s-*|rke2-*) dist_env "$pid" ;; esac
}

processes() {
    if [ ! -d "$P" ]; then err "cannot read processes: $P is not a directory"; return 0; fi
    # grep -l narrows hundreds of processes to the few worth a closer look.
    if have grep; then
        plist=$(grep -l -E 'kube|etcd|k3s|rke2' "$P"/[0-9]*/cmdline 2>/dev/null </dev/null)
    else
        plist=
        for pf in "$P"/[0-9]*/cmdline; do plist=$plist$pf$NL; done
    fi
    while IFS= read -r pf; do
        [ -n "$pf" ] && [ -r "$pf" ] && process "$pf"
    done <<EOF
$plist
EOF
}

# ---------------------------------------------------------------------------
# Default locations (CIS, kubeadm, k3s, RKE2)
# ---------------------------------------------------------------------------

kubelet_config_files() {
    kc=$1
    [ -f "$R$kc" ] && [ -r "$R$kc" ] || return 0
    while IFS= read -r kl || [ -n "$kl" ]; do
        case $kl in
            *staticPodPath*) kk=staticPodPath ;;
            *clientCAFile*) kk=clientCAFile ;;
            *tlsCertFile*) kk=tlsCertFile ;;
            *tlsPrivateKeyFile*) kk=tlsPrivateKeyFile ;;
            *) continue ;;
        esac
        kv=${kl#*"$kk"}
        kv=${kv#\"}; kv=${kv#*:}
        kv=${kv%%" #"*}
        while :; do case $kv in ' '*|'	'*|'"'*|"'"*) kv=${kv#?} ;; *) break ;; esac; done
        while :; do case $kv in *' '|*'	'|*'"'|*"'"|*,|*"$CR") kv=${kv%?} ;; *) break ;; esac; done
        case $kv in /*) ;; *) continue ;; esac
        if [ "$kk" = staticPodPath ]; then manifests "$kv"; else statf "$kv"; fi
    done < "$R$kc"
}

defaults() {
    manifests /etc/kubernetes/manifests
    for c in admin super-admin scheduler controller-manager kubelet bootstrap-kubelet; do
        statf /etc/kubernetes/$c.conf
    done
    statf /etc/kubernetes
    walk /etc/kubernetes/pki 8
    content /var/lib/kubelet/config.yaml
    statf /var/lib/kubelet/kubeconfig
    listdir /var/lib/kubelet/pki
    content /etc/kubernetes/kubelet/kubelet-config.json
    statf /etc/kubernetes/kubelet/kubeconfig
    statf /var/lib/etcd
    walk /etc/cni/net.d 3
    walk /var/lib/cni/networks 3
    statf /etc/kubernetes/proxy.conf
    statf /var/lib/kube-proxy/kubeconfig.conf
    statf /var/lib/kube-proxy/kubeconfig
    content /var/lib/kube-proxy/config.conf
    # the kubelet's systemd unit and drop-ins (systemctl is not always there)
    for u in /etc/systemd/system/kubelet.service /lib/systemd/system/kubelet.service \
             /usr/lib/systemd/system/kubelet.service; do
        content "$u"
    done
    # every directory systemd reads kubelet.service drop-ins from (same list
    # as kaudit/rules/files.py KUBELET_UNIT_DIRS); an absent one is MISSING
    for d in /etc/systemd/system/kubelet.service.d /run/systemd/system/kubelet.service.d \
             /usr/lib/systemd/system/kubelet.service.d /lib/systemd/system/kubelet.service.d; do
        confdir "$d" 0
    done
    # k3s and RKE2
    for dist in k3s rke2; do
        [ -d "$R/etc/rancher/$dist" ] || [ -d "$R/var/lib/rancher/$dist" ] || continue
        content /etc/rancher/$dist/config.yaml
        yamldir /etc/rancher/$dist/config.yaml.d
        statf /etc/rancher/$dist/$dist.yaml
        base=/var/lib/rancher/$dist
        walk $base/server/tls 4
        walk $base/server/cred 2
        content $base/server/cred/encryption-config.json redact
        statf $base/server/db/etcd
        # k3s's managed etcd runs in-process from this file (RKE2's etcd pod names it)
        follow etcd --config-file $base/server/db/etcd/config
        statf $base/server/db/state.db
        statf $base/server/token
        listdir $base/agent
        manifests $base/agent/pod-manifests
        listdir $base/agent/etc
        # k3s's CNI directory (its kubelet's --cni-conf-dir, not visible in /proc)
        listdir $base/agent/etc/cni/net.d
    done
}

# ---------------------------------------------------------------------------
# Owner names, from the host's own passwd/group (under KAUDIT_ROOT), then getent
# ---------------------------------------------------------------------------

names() {  # names KIND(USER|GROUP) FILE SEEN-LIST DB
    nleft=$3
    if [ -r "$R/etc/$2" ]; then
        while IFS=: read -r nn nx ni nrest || [ -n "$nn" ]; do
            case $nleft in *" $ni "*)
                printf '%s %s ' "$1" "$ni"; tok "$nn"; printf '\n'
                nleft=${nleft%%" $ni "*}" "${nleft#*" $ni "} ;;
            esac
        done < "$R/etc/$2"
    fi
    # users from LDAP/SSSD etc.: only meaningful on the machine we run on
    if [ -z "$R" ] && have getent; then
        for ni in $nleft; do
            ng=$(getent "$2" "$ni" 2>/dev/null </dev/null) || continue
            printf '%s %s ' "$1" "$ni"; tok "${ng%%:*}"; printf '\n'
        done
    fi
}

main() {
    LC_ALL=C; export LC_ALL
    R=${KAUDIT_ROOT:-/}
    while :; do case $R in */) R=${R%/} ;; *) break ;; esac; done
    P=${KAUDIT_PROC:-/proc}
    MAXBYTES=${KAUDIT_MAX_CONTENT:-262144}

    printf 'KAUDIT-NODE 1\n'
    NREC=0
    printf 'META collector '; tok "$COLLECTOR_VERSION"; printf '\n'
    h=
    if [ -n "$R" ] && [ -r "$R/etc/hostname" ]; then IFS= read -r h < "$R/etc/hostname"; fi
    [ -n "$h" ] || { [ -r "$P/sys/kernel/hostname" ] && IFS= read -r h < "$P/sys/kernel/hostname"; }
    printf 'META hostname '; tok "$h"; printf '\n'
    if have date; then printf 'META time '; tok "$(date -u +%Y-%m-%dT%H:%M:%SZ)"; printf '\n'; fi
    printf 'META root '; tok "${R:-/}"; printf '\n'
    if have id; then printf 'META euid '; tok "$(id -u)"; printf '\n'; fi
    have stat || err "stat not found: file metadata cannot be collected"
    have od || err "od not found: contents and argv cannot be collected"

    processes
    if [ -n "$KUBELET_CONFIG" ]; then
        kubelet_config_files "$KUBELET_CONFIG"
    else
        kubelet_config_files /var/lib/kubelet/config.yaml
    fi
    # the files the kubelet's drop-ins name (a drop-in may set clientCAFile)
    while IFS= read -r kd; do
        [ -n "$kd" ] && kubelet_config_files "$kd"
    done <<EOF
$KUBELET_DROPINS
EOF
    defaults

    printf 'RUNNING'
    for c in $RUNNING; do printf ' %s' "$c"; done
    printf '\n'
    names USER passwd "$SEEN_UID"
    names GROUP group "$SEEN_GID"
    command printf 'END %s\n' "$NREC"
}

if [ "${1:-}" = identify ]; then
    identify "$2" "$3"
    exit 0
fi
main </dev/null
exit 0
