output "server_ipv4" {
  description = "Public IPv4 of the k3s server (API on 6443, Kourier on 80/443)."
  value       = hcloud_primary_ip.server_v4.ip_address
}

output "server_ipv6" {
  description = "Public IPv6 of the k3s server."
  value       = hcloud_server.server.ipv6_address
}

output "server_private_ip" {
  description = "Address of the k3s server on the private network (agents join here)."
  value       = local.server_private_ip
}

output "agent_ipv4" {
  description = "Public IPv4 of each agent node, in order."
  value       = hcloud_server.agent[*].ipv4_address
}

output "agent_private_ips" {
  description = "Private addresses of the agent nodes."
  value       = local.agent_private_ips
}

output "k3s_version" {
  description = "k3s release cloud-init installed."
  value       = local.k3s_version
}

output "kubeapi_url" {
  description = "Kubernetes API endpoint the kubeconfig points at."
  value       = "https://${hcloud_primary_ip.server_v4.ip_address}:6443"
}

output "kubeconfig_path" {
  description = "Where scripts/bootstrap.sh writes the kubeconfig on the workstation."
  value       = local.kubeconfig_path
}

output "data_volume_id" {
  description = "Hetzner volume mounted at /var/lib/kairos on the server."
  value       = hcloud_volume.data.id
}

output "server_id" {
  description = "ID of the k3s server; changes when it is rebuilt (the bootstrap then forgets its old SSH host key)."
  value       = hcloud_server.server.id
}
