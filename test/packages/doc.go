// Package packages tests the .deb and .rpm that `make package` builds: what
// they hold (paths, modes, owners, dependencies, scripts), lintian's verdict
// on the .deb, the .rpm installed into a scratch root with Debian's rpm, the
// SELinux policy module compiled with Debian's checkpolicy, and the .deb
// installed with dpkg into fresh Debian 12 and 13 containers
// (scripts/debian-image.sh), where pam-auth-update wires it in and out and
// an OTP from a real Vault logs in through pamtester.
//
// They need `make package` (make integration runs it first), a Vault binary,
// the host packages of scripts/install-deps.sh, and Docker; the container
// test changes no file of this machine, but like every Docker-using test it
// runs under flock /tmp/pam_vault-root.lock when run by hand.
package packages
