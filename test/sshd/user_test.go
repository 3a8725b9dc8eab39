package sshd

const (
	// testUserName is the account the tests log in as.
	testUserName = "pvtest1"
	// userComment marks an account as this suite's, so that one left behind
	// by a killed run can be recognised and replaced.
	userComment = "pam_vault sshd test user"
)
