variable "hcloud_token" {
  description = "Hetzner Cloud API token (read/write) of the project. Pass it as TF_VAR_hcloud_token; never commit it."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.hcloud_token) == 64
    error_message = "hcloud_token must be the 64-character API token of a Hetzner Cloud project."
  }
}

variable "cluster_name" {
  description = "Prefix of every resource name and value of the `cluster` label."
  type        = string
  default     = "kairos"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3-32 characters of lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Environment label put on every resource (production, staging, ...)."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.environment))
    error_message = "environment must be a short lower-case label."
  }
}

variable "location" {
  description = "Hetzner location of the servers and the data volume."
  type        = string
  default     = "fsn1"

  validation {
    condition     = contains(["fsn1", "nbg1", "hel1", "ash", "hil", "sin"], var.location)
    error_message = "location must be one of fsn1, nbg1, hel1, ash, hil, sin."
  }
}

variable "network_zone" {
  description = "Network zone of the private subnet; must contain the location (eu-central for fsn1/nbg1/hel1)."
  type        = string
  default     = "eu-central"

  validation {
    condition     = contains(["eu-central", "us-east", "us-west", "ap-southeast"], var.network_zone)
    error_message = "network_zone must be one of eu-central, us-east, us-west, ap-southeast."
  }
}

variable "image" {
  description = "Operating system image of every node."
  type        = string
  default     = "ubuntu-24.04"

  validation {
    condition     = can(regex("^(ubuntu|debian)-[0-9.]+$", var.image))
    error_message = "image must be an Ubuntu or Debian image name such as ubuntu-24.04 or debian-12."
  }
}

variable "server_type" {
  description = "Server type of the k3s server (control plane + workloads while single node). Kafka, Postgres and Knative want at least 8 GB RAM."
  type        = string
  default     = "cx33"

  validation {
    condition     = can(regex("^(cx|cpx|cax|ccx)[0-9]{2}$", var.server_type))
    error_message = "server_type must be a Hetzner Cloud server type such as cx33, cpx41 or ccx23."
  }
}

variable "agent_count" {
  description = "Number of k3s agent nodes joining the server over the private network (0 = single node)."
  type        = number
  default     = 0

  validation {
    condition     = var.agent_count >= 0 && var.agent_count <= 20 && floor(var.agent_count) == var.agent_count
    error_message = "agent_count must be a whole number between 0 and 20."
  }
}

variable "agent_server_type" {
  description = "Server type of the agent nodes."
  type        = string
  default     = "cx33"

  validation {
    condition     = can(regex("^(cx|cpx|cax|ccx)[0-9]{2}$", var.agent_server_type))
    error_message = "agent_server_type must be a Hetzner Cloud server type such as cx33."
  }
}

variable "ssh_public_key_path" {
  description = "Path of the operator's SSH public key, installed for root on every node (used only by scripts to fetch the kubeconfig)."
  type        = string
  default     = "~/.ssh/id_ed25519.pub"

  validation {
    condition     = fileexists(pathexpand(var.ssh_public_key_path))
    error_message = "ssh_public_key_path must point to an existing public key file."
  }
}

variable "operator_cidrs" {
  description = "CIDRs allowed to reach SSH (22) and the Kubernetes API (6443), e.g. [\"203.0.113.7/32\"]. No default on purpose."
  type        = list(string)

  validation {
    condition     = length(var.operator_cidrs) > 0 && alltrue([for c in var.operator_cidrs : can(cidrhost(c, 0))])
    error_message = "operator_cidrs must be a non-empty list of CIDRs."
  }

  validation {
    condition     = !contains(var.operator_cidrs, "0.0.0.0/0") && !contains(var.operator_cidrs, "::/0")
    error_message = "operator_cidrs must not open SSH and the API to the whole internet."
  }
}

variable "private_network_cidr" {
  description = "Address range of the private network the nodes talk over."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.private_network_cidr, 0))
    error_message = "private_network_cidr must be a CIDR."
  }
}

variable "private_subnet_cidr" {
  description = "Subnet of private_network_cidr the nodes get their addresses from (server .10, agents .20 onwards)."
  type        = string
  default     = "10.0.1.0/24"

  validation {
    condition     = can(cidrhost(var.private_subnet_cidr, 0))
    error_message = "private_subnet_cidr must be a CIDR."
  }
}

variable "data_volume_size" {
  description = "Size in GB of the Hetzner volume mounted at /var/lib/kairos on the server (Postgres and Kafka data, survives server rebuilds)."
  type        = number
  default     = 40

  validation {
    condition     = var.data_volume_size >= 10 && var.data_volume_size <= 10240
    error_message = "data_volume_size must be between 10 and 10240 GB."
  }
}

variable "delete_protection" {
  description = "Protect the primary IP and the data volume against deletion (turn off before `make infra-down` destroys them)."
  type        = bool
  default     = false
}

variable "k3s_version" {
  description = "k3s release to install (vX.Y.Z+k3sN). Null = K3S_VERSION from the versions file, which is the normal case."
  type        = string
  default     = null

  validation {
    condition     = var.k3s_version == null || can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+\\+k3s[0-9]+$", var.k3s_version))
    error_message = "k3s_version must look like vX.Y.Z+k3sN, a k3s release tag."
  }
}

variable "versions_file" {
  description = "Path of the pinned-versions file (KEY=value lines). Empty = k8s/platform/versions.conf of this repository."
  type        = string
  default     = ""
}

variable "kubeconfig_path" {
  description = "Where scripts/bootstrap.sh writes the kubeconfig on the workstation. Empty = .state/hetzner/kubeconfig.yaml in the repository."
  type        = string
  default     = ""
}
