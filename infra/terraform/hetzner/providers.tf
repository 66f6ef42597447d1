# The API token comes from the environment (TF_VAR_hcloud_token, set by scripts/bootstrap.sh
# from the git-ignored scripts/hetzner/bootstrap-secrets.env), never from a file in git.
provider "hcloud" {
  token = var.hcloud_token
}
