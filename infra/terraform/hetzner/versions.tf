# Provider and Terraform pins. Terraform does not allow variables here, so these literals
# repeat HCLOUD_PROVIDER_VERSION / RANDOM_PROVIDER_VERSION / TERRAFORM_MIN_VERSION from
# k8s/platform/versions.conf; tests/infra/test_versions_pinned.py fails when they differ.
#
# State is local by default (terraform.tfstate, git-ignored). For a team, copy
# backend.tf.example to backend.tf (S3-compatible bucket, e.g. Hetzner Object Storage)
# and run `terraform init -migrate-state`: docs/OPERATIONS.md "Remote state".
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    hcloud = {
      source  = "hetznercloud/hcloud"
      version = "1.60.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.7.2"
    }
  }
}
