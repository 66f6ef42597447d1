# Kairos on Hetzner Cloud: one k3s server (control plane + workloads) and 0..N agents that
# join it over the private network. Everything else (Knative, Kafka, Postgres, the app) is
# applied from the workstation by scripts/bootstrap.sh once the API answers.

locals {
  repo_root     = abspath("${path.module}/../../..")
  versions_file = var.versions_file != "" ? var.versions_file : "${local.repo_root}/k8s/platform/versions.conf"
  # KEY=value lines of the versions file; comments and blank lines do not match.
  pinned      = { for m in regexall("(?m)^([A-Z0-9_]+)=([^\\s#]+)", file(local.versions_file)) : m[0] => m[1] }
  k3s_version = coalesce(var.k3s_version, local.pinned["K3S_VERSION"])

  kubeconfig_path = var.kubeconfig_path != "" ? var.kubeconfig_path : "${local.repo_root}/.state/hetzner/kubeconfig.yaml"

  server_private_ip = cidrhost(var.private_subnet_cidr, 10)
  agent_private_ips = [for i in range(var.agent_count) : cidrhost(var.private_subnet_cidr, 20 + i)]

  # Which network zone each location belongs to (the subnet must be in the servers' zone).
  location_zone = {
    fsn1 = "eu-central"
    nbg1 = "eu-central"
    hel1 = "eu-central"
    ash  = "us-east"
    hil  = "us-west"
    sin  = "ap-southeast"
  }

  labels = {
    app         = "kairos"
    cluster     = var.cluster_name
    environment = var.environment
    managed-by  = "terraform"
  }
}

resource "hcloud_ssh_key" "operator" {
  name       = "${var.cluster_name}-operator"
  public_key = file(pathexpand(var.ssh_public_key_path))
  labels     = local.labels
}

resource "hcloud_network" "private" {
  name     = "${var.cluster_name}-private"
  ip_range = var.private_network_cidr
  labels   = local.labels
}

resource "hcloud_network_subnet" "nodes" {
  network_id   = hcloud_network.private.id
  type         = "cloud"
  network_zone = var.network_zone
  ip_range     = var.private_subnet_cidr

  lifecycle {
    precondition {
      condition     = local.location_zone[var.location] == var.network_zone
      error_message = "network_zone must be the zone of location (${var.location} is in ${local.location_zone[var.location]})."
    }
  }
}

# Hetzner firewalls filter the public interfaces only; node-to-node traffic (k3s, flannel,
# kubelet) stays on the private network and is not affected. Outbound is unrestricted
# (no "out" rules): images, the k3s download and the venues' APIs need it.
resource "hcloud_firewall" "nodes" {
  name   = "${var.cluster_name}-nodes"
  labels = local.labels

  rule {
    description = "SSH from the operators only"
    direction   = "in"
    protocol    = "tcp"
    port        = "22"
    source_ips  = var.operator_cidrs
  }

  rule {
    description = "Kubernetes API from the operators only"
    direction   = "in"
    protocol    = "tcp"
    port        = "6443"
    source_ips  = var.operator_cidrs
  }

  rule {
    description = "HTTP to Kourier (Knative ingress)"
    direction   = "in"
    protocol    = "tcp"
    port        = "80"
    source_ips  = ["0.0.0.0/0", "::/0"]
  }

  rule {
    description = "HTTPS to Kourier (Knative ingress)"
    direction   = "in"
    protocol    = "tcp"
    port        = "443"
    source_ips  = ["0.0.0.0/0", "::/0"]
  }

  rule {
    description = "ICMP: path-MTU discovery and ping (no port is opened)"
    direction   = "in"
    protocol    = "icmp"
    source_ips  = ["0.0.0.0/0", "::/0"]
  }
}

resource "hcloud_placement_group" "nodes" {
  name   = "${var.cluster_name}-spread"
  type   = "spread"
  labels = local.labels
}

# Shared secret agents present to join the server. It lives in the Terraform state and in
# the servers' user data (both private to the project); rotate by tainting this resource.
resource "random_password" "k3s_token" {
  length  = 48
  special = false
}

# A primary IP of its own keeps the public address (DNS, kubeconfig, operator firewall
# rules elsewhere) stable when the server is rebuilt, and lets cloud-init put it in the
# API certificate before the server exists.
resource "hcloud_primary_ip" "server_v4" {
  name              = "${var.cluster_name}-server-v4"
  type              = "ipv4"
  location          = var.location
  assignee_type     = "server"
  auto_delete       = false
  delete_protection = var.delete_protection
  labels            = local.labels
}

# Postgres and Kafka data live on a volume, not on the server's disk, so that a server can
# be destroyed and recreated (docs/OPERATIONS.md "Recovery") without losing state.
resource "hcloud_volume" "data" {
  name              = "${var.cluster_name}-data"
  size              = var.data_volume_size
  location          = var.location
  format            = "ext4"
  delete_protection = var.delete_protection
  labels            = local.labels
}

resource "hcloud_server" "server" {
  name               = "${var.cluster_name}-server"
  server_type        = var.server_type
  image              = var.image
  location           = var.location
  ssh_keys           = [hcloud_ssh_key.operator.id]
  firewall_ids       = [hcloud_firewall.nodes.id]
  placement_group_id = hcloud_placement_group.nodes.id
  labels             = merge(local.labels, { role = "server" })

  user_data = templatefile("${path.module}/templates/server-cloud-init.yaml.tftpl", {
    k3s_version     = local.k3s_version
    k3s_version_url = urlencode(local.k3s_version)
    k3s_token       = random_password.k3s_token.result
    public_ipv4     = hcloud_primary_ip.server_v4.ip_address
    private_ip      = local.server_private_ip
    volume_id       = hcloud_volume.data.id
    cluster_name    = var.cluster_name
    data_directory  = "/var/lib/kairos"
  })

  public_net {
    ipv4_enabled = true
    ipv4         = hcloud_primary_ip.server_v4.id
    ipv6_enabled = true
  }

  network {
    network_id = hcloud_network.private.id
    ip         = local.server_private_ip
  }

  # cloud-init runs once; a changed template must not silently rebuild a running server.
  # Rebuild on purpose with `terraform apply -replace=hcloud_server.server`.
  lifecycle {
    ignore_changes = [user_data, ssh_keys, image]
  }

  depends_on = [hcloud_network_subnet.nodes]
}

resource "hcloud_volume_attachment" "data" {
  volume_id = hcloud_volume.data.id
  server_id = hcloud_server.server.id
  automount = false
}

resource "hcloud_server" "agent" {
  count              = var.agent_count
  name               = "${var.cluster_name}-agent-${count.index + 1}"
  server_type        = var.agent_server_type
  image              = var.image
  location           = var.location
  ssh_keys           = [hcloud_ssh_key.operator.id]
  firewall_ids       = [hcloud_firewall.nodes.id]
  placement_group_id = hcloud_placement_group.nodes.id
  labels             = merge(local.labels, { role = "agent" })

  user_data = templatefile("${path.module}/templates/agent-cloud-init.yaml.tftpl", {
    k3s_version       = local.k3s_version
    k3s_version_url   = urlencode(local.k3s_version)
    k3s_token         = random_password.k3s_token.result
    server_private_ip = local.server_private_ip
    private_ip        = local.agent_private_ips[count.index]
  })

  public_net {
    ipv4_enabled = true
    ipv6_enabled = true
  }

  network {
    network_id = hcloud_network.private.id
    ip         = local.agent_private_ips[count.index]
  }

  lifecycle {
    ignore_changes = [user_data, ssh_keys, image]
  }

  depends_on = [hcloud_network_subnet.nodes, hcloud_server.server]
}
